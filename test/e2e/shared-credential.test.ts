// Two agents holding one node's credential, as after a disk was cloned with its
// state directory or a second agent was started by hand: they take the node's
// broker session from each other in turn. The manager records it as an
// identity conflict of kind shared-credential (once, counting), raises the
// identity-conflicts alert, and leaves the node as it is; the operator stops
// one agent and closes the conflict.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeList } from '@metalfleet/api';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, cliBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-shared-credential-'));
const stateDir = join(dir, 'agent');
const manager = new ManagerProcess(join(dir, 'manager'), ['--acceptance', 'off']);
const agents: Proc[] = [];
const startAgent = () => {
  const agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '1', '--simulate-seed', 'twins',
    '--state-dir', stateDir, '--kernel-cmdline', '/nonexistent', '--retry-initial-ms', '200', '--retry-max-ms', '1000']);
  agents.push(agent);
  return agent;
};

type Conflict = { id: string; kind: string; status: string; nodeIds: string[]; reason: string; attempts: number };
const conflicts = () => manager.request<{ items: Conflict[] }>('GET', '/api/v1/identity-conflicts').then((l) => l.items);
const nodes = () => manager.request<NodeList>('GET', '/api/v1/nodes').then((l) => l.items);
const cli = (...args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
  const env = { PATH: process.env['PATH'] ?? '', HOME: dir, METALFLEET_MANAGER: manager.http, METALFLEET_CA_FILE: manager.caFile, METALFLEET_TOKEN: manager.adminToken };
  execFile(process.execPath, [cliBin, ...args], { env }, (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }));
});

beforeAll(async () => {
  await manager.start();
}, 60_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop('SIGKILL')));
  await manager.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a second agent with the same credential', () => {
  it('is recorded as a shared-credential conflict and alerted on; the node stays one node, and closing the conflict after stopping the copy ends it', async () => {
    const agent = startAgent();
    const [node] = await eventually(nodes, (l) => l.length === 1 && l[0]?.presence === 'online', 45_000);
    expect(await conflicts()).toEqual([]);
    // It dialled the manager's IP over TLS without the DEP0123 warning grpc-js would print (agent-tls-name.test.ts).
    expect(agent.lines.filter((l) => l.includes('DEP0123'))).toEqual([]);

    const copy = startAgent();
    const [conflict] = await eventually(conflicts, (l) => l.some((c) => c.kind === 'shared-credential'), 45_000);
    expect(conflict).toMatchObject({ kind: 'shared-credential', status: 'open', nodeIds: [node!.id] });
    expect(conflict!.reason).toContain(`two agents hold node ${node!.id}'s credential`);
    expect((await nodes()).map((n) => n.id)).toEqual([node!.id]);
    const alerts = await eventually(() => manager.request<{ items: Array<{ rule: string; state: string; nodes: string[] }> }>('GET', '/api/v1/alerts'),
      (l) => l.items.some((a) => a.rule === 'identity-conflicts' && a.state === 'firing'));
    expect(alerts.items.find((a) => a.rule === 'identity-conflicts')!.nodes).toContain(node!.id);
    expect((await cli('conflicts', 'ls')).stdout).toMatch(new RegExp(`${conflict!.id}\\s+shared-credential\\s+open\\s+${node!.id}`));

    // Approving makes no sense (no machine waits): said, and nothing changes.
    const approve = await cli('conflicts', 'approve', conflict!.id);
    expect(approve.code).not.toBe(0);
    expect(approve.stderr).toContain('there is no machine to approve; stop the second agent');

    await copy.stop('SIGKILL');
    expect(await cli('conflicts', 'reject', conflict!.id)).toMatchObject({ code: 0, stdout: `conflict ${conflict!.id} closed; if two agents still share node ${node!.id}'s credential, a new one opens\n` });
    await eventually(nodes, (l) => l[0]?.presence === 'online');
    expect((await conflicts()).map((c) => [c.kind, c.status])).toEqual([['shared-credential', 'rejected']]);
  }, 120_000);
});
