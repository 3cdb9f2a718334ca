// The manager on PostgreSQL (127.0.0.1:5432, database `test`): a node registers,
// the manager restarts, the node is still there and online again.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const postgres = 'postgresql://postgres@127.0.0.1:5432/test';
const schema = `mf_e2e_${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'mf-pg-'));
const manager = new ManagerProcess(join(dir, 'manager'), ['--postgres-url', postgres, '--postgres-schema', schema]);
let agent: Proc;

beforeAll(async () => {
  await manager.start();
  agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '3', '--state-dir', join(dir, 'agents'),
    '--retry-initial-ms', '200', '--retry-max-ms', '500', '--kernel-cmdline', '/nonexistent']);
});

afterAll(async () => {
  await agent.stop('SIGKILL');
  await manager.stop();
  const client = new pg.Client({ connectionString: postgres });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
  rmSync(dir, { recursive: true, force: true });
});

describe('manager on PostgreSQL', () => {
  it('keeps registered nodes, their history and tokens across a restart', async () => {
    const before = await eventually(() => manager.nodes(), (l) => l.items.length === 3 && l.items.every((n) => n.presence === 'online' && n.state === 'available'));
    await manager.stop();
    await manager.start();
    const after = await eventually(() => manager.nodes(), (l) => l.items.length === 3 && l.items.every((n) => n.presence === 'online'));
    expect(after.items.map((n) => n.id).sort()).toEqual(before.items.map((n) => n.id).sort());
    const history = await manager.get<{ items: Array<{ event: string }> }>(`/api/v1/nodes/${after.items[0]!.id}/history`);
    expect(history.items.map((h) => h.event)).toEqual(['inspect', 'accept', 'acceptance-passed']);
    const client = new pg.Client({ connectionString: postgres });
    await client.connect();
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${schema}.nodes`);
    await client.end();
    expect(rows[0]).toEqual({ n: 3 });
  });
});
