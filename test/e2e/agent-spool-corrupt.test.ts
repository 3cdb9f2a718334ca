// An agent started on a state dir whose spool is corrupt (a disk or power
// fault) keeps working: it moves the bad file aside, says so once, makes a new
// spool, and registers and reports as before (it used to exit 1, and systemd
// restarted it into the same exit for good).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeHealth } from '@metalfleet/api';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-spool-corrupt-'));
const manager = new ManagerProcess(join(dir, 'manager'), ['--health-interval-s', '0.3']);
let agent: Proc | null = null;

beforeAll(async () => {
  await manager.start();
});

afterAll(async () => {
  await agent?.stop('SIGKILL');
  await manager.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('an agent whose spool is corrupt', () => {
  it('quarantines it, warns naming the file, registers and reports health, and tells the manager in a warning condition', async () => {
    const stateDir = join(dir, 'agent');
    mkdirSync(stateDir, { recursive: true });
    const spool = join(stateDir, 'spool.db');
    writeFileSync(spool, Buffer.from('SQLite format 3\0'.padEnd(8192, '\u00ff')));
    agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '1', '--state-dir', stateDir,
      '--health-interval-s', '0.3', '--retry-initial-ms', '200', '--retry-max-ms', '500']);
    const warning = await agent.waitForLog(/^spool .* was corrupt/);
    expect(warning).toMatchObject({ level: 40, file: spool, reason: 'corrupt' });
    expect(String(warning['msg'])).toContain(spool);
    // Registered, inspected from the health it reports, and in service.
    const list = await eventually(() => manager.nodes(), (l) => l.items[0]?.state === 'available' && l.items[0]?.presence === 'online', 45_000);
    expect(list.items).toHaveLength(1);
    expect(agent.child.exitCode).toBeNull();
    const quarantined = readdirSync(stateDir).filter((n) => n.startsWith('spool.db.corrupt-'));
    expect(quarantined).toHaveLength(1);
    expect(warning['quarantinedAs']).toBe(join(stateDir, quarantined[0]!));
    expect(existsSync(spool)).toBe(true);
    const health = await eventually(() => manager.get<NodeHealth>(`/api/v1/nodes/${list.items[0]!.id}/health`), (h) => h.conditions.length > 0);
    expect(health.conditions.map((c) => `${c.component} ${c.code} ${c.severity} ${c.remediation}`)).toEqual(['agent agent-spool-corrupt warning none']);
    expect(health.conditions[0]!.message).toContain(quarantined[0]);
  }, 90_000);

  it('a spool deleted under an agent that ran before (it has its credential) is a loss too: warned, and a warning condition', async () => {
    const stateDir = join(dir, 'agent');
    await agent?.stop('SIGTERM');
    for (const name of readdirSync(stateDir).filter((n) => n.startsWith('spool.db'))) rmSync(join(stateDir, name));
    expect(existsSync(join(stateDir, 'sim-001', 'credential.json'))).toBe(true);
    agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '1', '--state-dir', stateDir,
      '--health-interval-s', '0.3', '--retry-initial-ms', '200', '--retry-max-ms', '500']);
    const warning = await agent.waitForLog(/^spool .* was missing/);
    expect(warning).toMatchObject({ level: 40, file: join(stateDir, 'spool.db'), reason: 'missing' });
    const nodeId = (await manager.nodes()).items[0]!.id;
    const health = await eventually(() => manager.get<NodeHealth>(`/api/v1/nodes/${nodeId}/health`), (h) => h.conditions.some((c) => c.code === 'agent-spool-missing'));
    expect(health.conditions.map((c) => `${c.component} ${c.code} ${c.severity} ${c.remediation}`)).toContain('agent agent-spool-missing warning none');
  }, 90_000);
});
