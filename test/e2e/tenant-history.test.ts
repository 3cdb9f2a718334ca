// A tenant-scoped token sees a node's data only from the start of the node's
// current allocation on: tenant B, given a node that tenant A used a moment
// ago, reads none of A's telemetry (GPU/CPU load, power: the shape of A's
// workload), nor A's lifecycle steps or health events, through its own scoped
// viewer token. Operations were already judged by the tenant at the time.
// Failed before: node routes judged by the node's tenant now, and B's token
// got telemetry points from A's tenancy (docs/security.md).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeList } from '@metalfleet/api';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-hostile-history-'));
const manager = new ManagerProcess(join(dir, 'manager'), ['--telemetry-interval-s', '1']);
let agent: Proc | null = null;
const api = <T>(method: string, path: string, body?: unknown): Promise<T> => manager.request<T>(method, path, body);

beforeAll(async () => {
  await manager.start();
  agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '1', '--simulate-seed', 'hostile-history',
    '--state-dir', join(dir, 'node'), '--kernel-cmdline', '/nonexistent']);
  await eventually(() => api<NodeList>('GET', '/api/v1/nodes'), (l) => l.items.length === 1 && l.items[0]!.state === 'available', 60_000);
}, 90_000);

afterAll(async () => {
  await agent?.stop('SIGKILL');
  await manager.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Points = { points: Array<{ at: string }> };

describe('a tenant given a node that another tenant had', () => {
  it('sees no telemetry, history or health events from before it had the node; an operator sees them all', { timeout: 300_000 }, async () => {
    const nodeId = (await api<NodeList>('GET', '/api/v1/nodes')).items[0]!.id;
    const a = await api<{ id: string }>('POST', '/api/v1/tenants', { name: 'tenant-a' });
    const b = await api<{ id: string }>('POST', '/api/v1/tenants', { name: 'tenant-b' });
    const allocatedToA = Date.now();
    await api('POST', `/api/v1/tenants/${a.id}/nodes`, { nodeId });
    const telemetry = (token: string) => fetch(`${manager.http}/api/v1/nodes/${nodeId}/telemetry?metric=cpu_load_percent&range=1h`, { headers: { authorization: `Bearer ${token}` } })
      .then(async (r) => (r.ok ? ((await r.json()) as Points).points : []));
    // 1-minute buckets: one that lies wholly inside A's tenancy, i.e. it starts after A got the node and ends before A lets it go.
    const aOnly = (p: { at: string }, releasedAt: number) => Date.parse(p.at) >= allocatedToA && Date.parse(p.at) + 60_000 <= releasedAt;
    await eventually(() => telemetry(manager.adminToken), (p) => p.some((x) => Date.parse(x.at) >= allocatedToA), 150_000);
    // ...and that bucket is over (waiting on the clock: the bucket boundary is the condition).
    await eventually(async () => (await telemetry(manager.adminToken)).some((x) => aOnly(x, Date.now())), (ok) => ok, 90_000);
    const releasedAt = Date.now();
    await api('DELETE', `/api/v1/tenants/${a.id}/nodes/${nodeId}`);
    // The operator finishes the release (here by hand: a wipe would report it).
    await api('POST', `/api/v1/nodes/${nodeId}/lifecycle`, { event: 'released', reason: 'wiped' });
    await api('POST', `/api/v1/tenants/${b.id}/nodes`, { nodeId });
    const { token } = await api<{ token: string }>('POST', '/api/v1/tokens', { name: 'tenant-b viewer', role: 'viewer', tenantId: b.id });
    const seen = await telemetry(token);
    const fromA = seen.filter((p) => aOnly(p, releasedAt));
    console.log(JSON.stringify({ points: seen.length, measuredWhileTenantAHadIt: fromA }));
    expect(fromA).toEqual([]);
    // Its lifecycle: from B's allocation on, none of A's steps (an operator sees them).
    const history = (token: string) => fetch(`${manager.http}/api/v1/nodes/${nodeId}/history`, { headers: { authorization: `Bearer ${token}` } })
      .then(async (r) => ((await r.json()) as { items: Array<{ event: string; reason: string; at: string }> }).items);
    const aSteps = (items: Array<{ reason: string }>) => items.filter((i) => i.reason.includes(a.id) || i.reason === 'wiped');
    expect(aSteps(await history(manager.adminToken)).length).toBeGreaterThan(0);
    expect(aSteps(await history(token))).toEqual([]);
    expect((await history(token))[0]?.event).toBe('allocate');
    // Its health events: only those received since.
    const health = (await (await fetch(`${manager.http}/api/v1/nodes/${nodeId}/health`, { headers: { authorization: `Bearer ${token}` } })).json()) as { events: Array<{ receivedAt: string }> };
    expect(health.events.filter((e) => Date.parse(e.receivedAt) < releasedAt)).toEqual([]);
  });
});
