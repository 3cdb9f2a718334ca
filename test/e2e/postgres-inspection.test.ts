// New nodes on a PostgreSQL store leave `inspecting` with their first health
// digest. The digest an agent sends as soon as it is on MQTT used to be handled
// before the `inspect` transition of its registration had committed (PostgreSQL
// answers slower than SQLite): the controller saw the node still `discovered`,
// dropped the digest, and the node sat in `inspecting` until the next digest,
// 300 s later (95 of 100 nodes in one run). Events of one node are now handled
// in order, so the digest is evaluated once the node is `inspecting`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagerProcess } from '../support/manager.ts';
import { PrivatePostgres } from '../support/postgres.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const nodes = 30;
const dir = mkdtempSync(join(tmpdir(), 'mf-pg-inspect-'));
const postgres = new PrivatePostgres();
let manager: ManagerProcess;
let agents: Proc | null = null;

beforeAll(async () => {
  await postgres.init();
  // The next digest comes 300 s later (the default): a dropped first digest shows as a node stuck in inspecting.
  manager = new ManagerProcess(join(dir, 'manager'), ['--postgres-url', postgres.url]);
  await manager.start();
}, 120_000);

afterAll(async () => {
  await agents?.stop('SIGKILL');
  await manager?.stop();
  await postgres.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('new nodes on PostgreSQL', () => {
  it(`all ${nodes} leave inspecting with their first health digest (not 300 s later)`, async () => {
    agents = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', String(nodes), '--state-dir', join(dir, 'agents'),
      '--retry-initial-ms', '200', '--retry-max-ms', '500', '--kernel-cmdline', '/nonexistent']);
    await eventually(() => manager.nodes(), (l) => l.items.length === nodes, 60_000);
    // Far below the 300 s to the next digest: 90 s for all of them on a busy two-core machine.
    const list = await eventually(() => manager.nodes(), (l) => l.items.every((n) => n.state !== 'inspecting' && n.state !== 'discovered'), 90_000)
      .catch(async () => manager.nodes());
    const stuck = list.items.filter((n) => n.state === 'inspecting' || n.state === 'discovered').map((n) => n.id);
    expect(stuck).toEqual([]);
    // Then each passes its acceptance suite (on by default) into the pool.
    const accepted = await eventually(() => manager.nodes(), (l) => l.items.every((n) => n.state === 'available'), 60_000).catch(async () => manager.nodes());
    expect(new Set(accepted.items.map((n) => n.state))).toEqual(new Set(['available']));
  }, 180_000);
});
