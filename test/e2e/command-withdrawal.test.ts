// An agent down past its command's deadline: the manager gives the reimage up
// and fails it; when the agent comes back, the reimage must not run (it used to
// wait in the node's persistent MQTT session, and the node rebooted into it a
// minute after it had been marked failed). Real manager binary, real simulated
// agents (docs/agent-commands.md, "Deadlines and withdrawal").
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeList, Operation, Tenant } from '@metalfleet/api';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-withdrawal-'));
const nodes = 2;
let manager: ManagerProcess;
let agent: Proc | null = null;

const api = <T>(method: string, path: string, body?: unknown): Promise<T> => manager.request<T>(method, path, body);
const startAgent = () => start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', String(nodes), '--simulate-seed', 'withdrawal',
  '--simulate-reboot-ms', '300', '--state-dir', join(dir, 'agent'), '--kernel-cmdline', '/nonexistent']);
const online = async () => (await api<NodeList>('GET', '/api/v1/nodes')).items.filter((n) => n.presence === 'online').length;

beforeAll(async () => {
  // Given up after 2 deliveries 2 s apart; the offline node is not failed by presence meanwhile.
  manager = new ManagerProcess(join(dir, 'manager'), ['--command-ack-timeout-s', '2', '--command-max-attempts', '2', '--reimage-boot-timeout-s', '60', '--reimage-step-timeout-s', '60']);
  await manager.start();
  agent = startAgent();
  await eventually(() => api<NodeList>('GET', '/api/v1/nodes'), (l) => l.items.length === nodes && l.items.every((n) => n.state === 'available'), 45_000);
  const boot = `${manager.boot}/images`;
  await api('PUT', '/api/v1/images/gpu-os/2.0', { kernelUrl: `${boot}/vmlinuz`, initrdUrl: `${boot}/initrd`, rootUrl: `${boot}/root.img`, sha256: 'ab'.repeat(32), cmdline: '' });
}, 120_000);

afterAll(async () => {
  await agent?.stop('SIGKILL');
  await manager?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('an agent down past its command\'s deadline', () => {
  it('the reimage the manager gave up on does not run when the agent comes back; the manager records it withdrawn', async () => {
    const tenant = await api<Tenant>('POST', '/api/v1/tenants', { name: 'withdrawal' });
    const list = (await api<NodeList>('GET', '/api/v1/nodes')).items;
    for (const node of list) await api('POST', `/api/v1/tenants/${tenant.id}/nodes`, { nodeId: node.id });
    // The agents stop (their persistent sessions stay in the manager's broker), then the reimages are issued.
    await agent!.stop('SIGKILL');
    agent = null;
    await eventually(online, (n) => n === 0, 30_000);
    const ops: Operation[] = [];
    for (const node of list) ops.push(await api<Operation>('POST', `/api/v1/nodes/${node.id}/reimage`, { image: 'gpu-os@2.0' }));
    const failed = await Promise.all(ops.map((op) => eventually(() => api<Operation>('GET', `/api/v1/operations/${op.id}`), (o) => o.state !== 'running', 60_000)));
    expect(failed.map((o) => o.state)).toEqual(ops.map(() => 'failed'));
    const commandIds = failed.map((o) => o.nodes[0]!.commandId!);
    expect(commandIds.every((id) => typeof id === 'string' && id !== '')).toBe(true);

    // The agents come back. Each node's session held its reimage: it is withheld, or (had it already been on its
    // way) the agent claims it and is refused. Either is in a log; a reimage run would be too ("executing command").
    agent = startAgent();
    const withheldFor = (nodeId: string) => manager.proc!.lines.some((l) => l.includes('forward-withheld') && l.includes(nodeId));
    const agentSaw = (commandId: string) => agent!.lines.some((l) => l.includes(commandId) && (l.includes('executing command') || l.includes('command refused')));
    await eventually(async () => list.every((node, i) => withheldFor(node.id) || agentSaw(commandIds[i]!)), (all) => all, 60_000);
    await eventually(online, (n) => n === nodes, 60_000);
    const withheld = manager.proc!.lines.filter((l) => l.includes('forward-withheld')).length;
    const executed = agent.lines.filter((l) => l.includes('executing command'));
    expect(executed).toEqual([]);
    expect(withheld + agent.lines.filter((l) => l.includes('command refused')).length).toBeGreaterThanOrEqual(nodes);
    // Nothing rebooted: no node is in another boot, and the commands stay given up, with why.
    for (const [i, node] of list.entries()) {
      const { items } = await api<{ items: Array<{ id: string; state: string; message: string }> }>('GET', `/api/v1/nodes/${node.id}/commands`);
      expect(items.find((c) => c.id === commandIds[i])).toMatchObject({ state: 'expired', message: expect.stringMatching(/^no ack after 2 deliveries; withdrawn from the node/) as unknown });
    }
    expect(agent.lines.filter((l) => l.includes('next boot from the network'))).toEqual([]);
  }, 240_000);
});
