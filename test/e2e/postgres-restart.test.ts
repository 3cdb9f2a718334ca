// The manager rides out a PostgreSQL outage: a private cluster (its own port and
// data directory) is restarted and stopped under a running manager. The process
// lives on, /healthz stays 200, /readyz and writes answer 503 with a reason while
// the store is down, and once it is back writes work and nothing stored is lost
// (three simulated nodes registered before stay registered and online).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagerProcess } from '../support/manager.ts';
import { PrivatePostgres } from '../support/postgres.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-pg-restart-'));
const postgres = new PrivatePostgres();
let manager: ManagerProcess;
let agents: Proc;

beforeAll(async () => {
  await postgres.init();
  manager = new ManagerProcess(join(dir, 'manager'), ['--postgres-url', postgres.url]);
  await manager.start();
  agents = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '3', '--state-dir', join(dir, 'agents'),
    '--retry-initial-ms', '200', '--retry-max-ms', '500', '--kernel-cmdline', '/nonexistent']);
  await eventually(() => manager.nodes(), (l) => l.items.length === 3 && l.items.every((n) => n.presence === 'online'), 60_000);
}, 120_000);

afterAll(async () => {
  await agents?.stop('SIGKILL');
  await manager?.stop();
  await postgres.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** Fails at once (not at a timeout) when the manager process has died. */
function expectAlive(): void {
  const child = manager.proc!.child;
  if (child.exitCode !== null || child.signalCode !== null) {
    throw new Error(`manager exited (${child.exitCode ?? child.signalCode}); output:\n${manager.proc!.lines.slice(-30).join('\n')}`);
  }
}

async function probe(path: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  expectAlive();
  const response = await fetch(`${manager.http}${path}`, { ...init, headers: manager.auth(init.body ? { 'content-type': 'application/json' } : {}) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const createTenant = (name: string) => probe('/api/v1/tenants', { method: 'POST', body: JSON.stringify({ name }) });
const tenantNames = async () => ((await probe('/api/v1/tenants')).body['items'] as Array<{ name: string }>).map((t) => t.name).sort();

describe('manager on PostgreSQL that restarts', () => {
  it('lives through pg_ctl restart -m fast and keeps working', async () => {
    expect((await createTenant('before-restart')).status).toBe(201);
    expect((await probe('/readyz')).status).toBe(200);
    await postgres.restart();
    const ready = await eventually(() => probe('/readyz'), (r) => r.status === 200);
    expect(ready.body).toMatchObject({ status: 'ready', checks: { store: { ready: true } } });
    expectAlive();
    expect((await createTenant('after-restart')).status).toBe(201);
    expect(await tenantNames()).toEqual(['after-restart', 'before-restart']);
  });

  it('while the store is down: alive, not ready, writes 503 with a reason; after: ready, writes work, data kept', async () => {
    await postgres.stop();
    const notReady = await eventually(() => probe('/readyz'), (r) => r.status === 503);
    expect(notReady.body).toMatchObject({ status: 'not-ready', checks: { store: { ready: false, message: expect.stringMatching(/store.*unreachable/) } } });
    expect((await probe('/healthz')).status).toBe(200);
    const write = await createTenant('during-outage');
    expect(write).toEqual({ status: 503, body: { error: { code: 'unavailable', message: expect.stringMatching(/fleet store.*unreachable/) } } });
    expectAlive();

    await postgres.start();
    await eventually(() => probe('/readyz'), (r) => r.status === 200);
    expect((await createTenant('after-outage')).status).toBe(201);
    expect(await tenantNames()).toEqual(['after-outage', 'after-restart', 'before-restart']);
    expect((await probe('/healthz')).status).toBe(200);
    // The nodes registered before both outages are still there, and online again.
    await eventually(() => manager.nodes(), (l) => l.items.length === 3 && l.items.every((n) => n.presence === 'online'));
  });
});
