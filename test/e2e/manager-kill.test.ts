// kill -9 of the real manager at every phase of a reimage, and at the instant
// a simulated agent has just sent a report (the command's ack, the install's
// result): the restarted manager finishes each reimage, nothing is lost, no
// report takes effect twice, no node fails because of the restart, and no
// reimage runs twice on its node.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeList, Operation, Tenant } from '@metalfleet/api';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-manager-kill-'));
let manager: ManagerProcess;
let agent: Proc;
let tenantNodes: string[] = [];
// The site's drain hook: answers at once, or first kills the manager while it waits for the answer.
let drainHook: Server;
let onDrain: (() => void) | null = null;
// Every line every manager process printed, across the kills.
const managerLines: string[] = [];

const api = <T>(method: string, path: string, body?: unknown): Promise<T> => manager.request<T>(method, path, body);
const operation = (id: string) => api<Operation>('GET', `/api/v1/operations/${id}`);
const history = async (nodeId: string) => (await api<{ history: Array<{ from: string; to: string; actor: string }> }>('GET', `/api/v1/nodes/${nodeId}`)).history;

const order = ['queued', 'draining', 'isolating', 'rebooting', 'installing', 'health-check', 'restoring', 'done'];
const progressOf = (operationId: string) => (entry: Record<string, unknown>) => {
  const event = entry['event'] as { type?: string; operationId?: string; phase?: string } | undefined;
  return event?.type === 'operation-progress' && event.operationId === operationId ? event.phase ?? null : null;
};

/** Where to kill the manager: waiting for the drain hook, a phase the manager logs for the operation, or a report the agent has just sent. */
type KillPoint = { name: string; in: 'drain-hook' } | { name: string; in: 'manager'; phase: string } | { name: string; in: 'agent'; msg: string };
const killPoints: KillPoint[] = [
  { name: 'phase draining (waiting for the drain hook)', in: 'drain-hook' },
  ...order.slice(2, -1).map((phase): KillPoint => ({ name: `phase ${phase}`, in: 'manager', phase })),
  { name: 'right after the agent acked the reimage command', in: 'agent', msg: 'executing command' },
  { name: 'right after the agent reported the install result', in: 'agent', msg: 'image installed and verified' },
];

/** Starts (or restarts) the manager on its data directory and ports, keeping its output. */
async function startManager(): Promise<void> {
  await manager.start();
  const proc = manager.proc!;
  proc.child.once('exit', () => managerLines.push(...proc.lines));
}

beforeAll(async () => {
  const root = Buffer.from(`metalfleet kill test root image ${Date.now()}\n`.repeat(1024));
  mkdirSync(join(dir, 'manager', 'images'), { recursive: true });
  writeFileSync(join(dir, 'manager', 'images', 'root.img'), root);
  drainHook = createServer((request, response) => {
    request.resume();
    request.once('end', () => {
      onDrain?.();
      response.end();
    });
  });
  await new Promise<void>((resolve) => drainHook.listen(0, '127.0.0.1', resolve));
  manager = new ManagerProcess(join(dir, 'manager'), [
    '--drain-hook-url', `http://127.0.0.1:${(drainHook.address() as AddressInfo).port}/drain`,
    '--telemetry-interval-s', '1', '--health-interval-s', '1', '--health-digest-interval-s', '2', '--command-ack-timeout-s', '1', '--command-max-attempts', '60',
    '--reimage-concurrency', '10', '--reimage-boot-timeout-s', '60', '--reimage-step-timeout-s', '60',
  ]);
  await startManager();
  agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', String(killPoints.length), '--simulate-seed', 'kill',
    '--simulate-reboot-ms', '200', '--state-dir', join(dir, 'agents'), '--kernel-cmdline', '/nonexistent']);
  const ready = await eventually(() => api<NodeList>('GET', '/api/v1/nodes'),
    (l) => l.items.length === killPoints.length && l.items.every((n) => n.state === 'available' && n.presence === 'online'), 60_000);
  const sha256 = createHash('sha256').update(root).digest('hex');
  const images = `${manager.boot}/images`;
  await api('PUT', '/api/v1/images/gpu-os/1.0', { kernelUrl: `${images}/vmlinuz`, initrdUrl: `${images}/initrd`, rootUrl: `${images}/root.img`, sha256, cmdline: '' });
  const tenant = await api<Tenant>('POST', '/api/v1/tenants', { name: 'kill' });
  tenantNodes = ready.items.map((n) => n.id);
  for (const id of tenantNodes) await api('POST', `/api/v1/tenants/${tenant.id}/nodes`, { nodeId: id });
}, 120_000);

afterAll(async () => {
  await agent?.stop('SIGKILL');
  await manager?.stop();
  drainHook?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the manager killed (SIGKILL) during a reimage', () => {
  const operations: Array<{ point: string; operationId: string; nodeId: string }> = [];

  it.each(killPoints.map((point, index) => ({ point, index })))('finishes the reimage after a kill at $point.name', async ({ point, index }) => {
    const nodeId = tenantNodes[index]!;
    const proc = manager.proc!;
    const fromManager = proc.lines.length;
    const fromAgent = agent.lines.length;
    const kill = () => void proc.child.kill('SIGKILL');
    const drained = point.in === 'drain-hook'
      ? new Promise<void>((resolve) => {
        onDrain = () => {
          onDrain = null;
          kill();
          resolve();
        };
      })
      : null;
    const op = await api<Operation>('POST', `/api/v1/nodes/${nodeId}/reimage`, { image: 'gpu-os@1.0' });
    operations.push({ point: point.name, operationId: op.id, nodeId });
    if (point.in === 'drain-hook') {
      await drained;
    } else if (point.in === 'manager') {
      await proc.onLine(fromManager, (entry) => progressOf(op.id)(entry) === point.phase, kill);
    } else {
      await agent.onLine(fromAgent, (entry) => entry['msg'] === point.msg && entry['commandId'] === `reimage-${op.id}-${nodeId}`, kill);
    }
    await proc.stop('SIGKILL');
    await startManager();
    const done = await eventually(() => operation(op.id), (o) => o.state !== 'running', 60_000);
    expect(done, JSON.stringify(done.nodes)).toMatchObject({ state: 'succeeded', progress: { total: 1, done: 1, failed: 0 } });
    // The simulated node has no BMC: the reimage rests on its agent's word, and says so.
    expect(done.nodes[0]).toMatchObject({ phase: 'done', message: expect.stringMatching(/^reimaged \(not verified by the manager: the node has no BMC/) as unknown, evidence: { proof: 'agent-only' } });
  }, 90_000);

  it('ran each reimage once on its node and walked each through its phases once, in order', async () => {
    // The agent carried out each reimage command once, however often it was delivered.
    const executed = agent.lines.filter((line) => line.includes('"executing command"')).map((line) => String((JSON.parse(line) as Record<string, unknown>)['commandId']))
      .filter((id) => id.startsWith('reimage-')); // not the acceptance suites each node ran before it served
    expect(executed.sort()).toEqual(operations.map((o) => `reimage-${o.operationId}-${o.nodeId}`).sort());
    for (const { point, operationId, nodeId } of operations) {
      // Into provisioning and back to the tenant once: no step (and no report) took effect twice.
      const moves = (await history(nodeId)).filter((h) => h.actor === `reimage ${operationId}`).map((h) => h.to);
      expect(moves, point).toEqual(['provisioning', 'active']);
      // The phases each manager logged, the same phase in a row taken as one (evidence recorded within a phase): forward only.
      const phases = [...managerLines, ...(manager.proc?.lines ?? [])].flatMap((line) => {
        if (!line.startsWith('{')) return [];
        const phase = progressOf(operationId)(JSON.parse(line) as Record<string, unknown>);
        return phase ? [phase] : [];
      }).filter((phase, i, all) => phase !== all[i - 1]);
      const positions = phases.map((phase) => order.indexOf(phase));
      expect(positions.every((p, i) => p > (positions[i - 1] ?? -1)), `${point}: ${phases.join(' → ')}`).toBe(true);
      expect(phases.at(-1), point).toBe('done');
    }
  });

  it('says once per outage that the broker is unreachable, in one line without a stack (issue 23: twice per retry, with a stack)', () => {
    const entries = agent.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const perNode = new Map<string, number>();
    for (const e of entries.filter((e) => String(e['msg']).startsWith('broker unreachable'))) perNode.set(String(e['nodeId']), (perNode.get(String(e['nodeId'])) ?? 0) + 1);
    // Each node saw at most one outage per kill of its manager, and one when its own reimage rebooted it (a retry a
    // second for as long as the manager was down would be dozens).
    expect(perNode.size).toBeGreaterThan(0);
    for (const [node, count] of perNode) expect(count, node).toBeLessThanOrEqual(killPoints.length + 1);
    expect(agent.lines.filter((l) => l.includes('ECONNREFUSED') && l.includes('"stack"')).map((l) => l.slice(0, 300))).toEqual([]);
  });
});
