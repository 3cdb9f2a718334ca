import { afterEach, describe, expect, it } from 'vitest';
import { startFleet } from '../fleet-harness.test-kit.ts';
import { createOwedReplacements, owedClaimStaleMs } from './owed-replacements.ts';

const t0 = new Date('2026-11-21T10:00:00Z');
const closers: Array<() => Promise<void>> = [];
afterEach(async () => { for (const c of closers.splice(0).reverse()) await c(); });
const profile = { gpuModel: '', gpuCount: 0, minMemoryBytes: 0 };

// Replacements owed, as a hostile review broke them: a debt that cannot be worked on, a replica that dies holding one,
// and a failure whose placement throws after the node left its tenant.
describe('replacements owed, under faults', () => {
  it('a debt to a tenant deleted while its template stays is dropped and holds up no other tenant\'s', async () => {
    const f = await startFleet({ now: () => t0 });
    closers.push(f.close);
    const gone = await f.tenants.create('gone');
    const live = await f.tenants.create('live');
    await f.templates.create({ name: 'g', image: { name: 'gpu-os', version: '1' }, tenantId: gone.id, nodeCount: 1, profile });
    await f.templates.create({ name: 'l', image: { name: 'gpu-os', version: '1' }, tenantId: live.id, nodeCount: 2, profile });
    for (const id of ['g1', 'l1', 'l2']) await f.addNode(id);
    await f.activeIn(gone.id, 'g1');
    await f.activeIn(live.id, 'l1'); await f.activeIn(live.id, 'l2');
    await f.lifecycle.apply('g1', 'fail', 'remediation', 'xid'); // owed (g1, gone): oldest
    await f.tenants.remove(gone.id); // it has no node now: allowed; its template is not removed
    await f.store.oweReplacement({ failedNodeId: 'l1', tenantId: live.id, reason: 'x', actor: 'a', at: new Date(t0.getTime() + 1) });
    await f.lifecycle.apply('l1', 'fail', 'remediation', 'xid'); // (already owed above for brevity; same key: nothing new)
    await f.addNode('spare');
    const errors: unknown[] = [];
    const owed = createOwedReplacements({ store: f.store, events: f.events, tenants: f.tenants, templates: f.templates, reimages: f.reimages, now: () => t0, onError: (e) => errors.push(e) });
    expect(await owed.retry()).toBe(1);
    expect(await f.node('spare')).toMatchObject({ state: 'allocated', tenant: live.id });
    expect(await f.store.owedReplacements()).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('a replica that dies holding a debt leaves it to another once its claim is stale', async () => {
    const f = await startFleet({ now: () => t0 });
    closers.push(f.close);
    const t = await f.tenants.create('t');
    await f.templates.create({ name: 't', image: { name: 'gpu-os', version: '1' }, tenantId: t.id, nodeCount: 1, profile });
    await f.addNode('n1'); await f.activeIn(t.id, 'n1');
    await f.lifecycle.apply('n1', 'fail', 'remediation', 'xid');
    await f.addNode('spare');
    // The dying replica: its allocation never completes (process killed).
    const dying = createOwedReplacements({ store: f.store, events: f.events, now: () => t0, templates: f.templates, reimages: f.reimages,
      tenants: { ...f.tenants, allocateNode: () => new Promise<void>(() => undefined) } });
    void dying.retry();
    await new Promise((r) => setTimeout(r, 50));
    let now = t0;
    const survivor = createOwedReplacements({ store: f.store, events: f.events, tenants: f.tenants, templates: f.templates, reimages: f.reimages, now: () => now });
    expect(await survivor.retry()).toBe(0);
    expect(await f.store.owedReplacements()).toHaveLength(1);
    now = new Date(t0.getTime() + owedClaimStaleMs + 1);
    expect(await survivor.retry()).toBe(1);
    expect(await f.store.owedReplacements()).toEqual([]);
    expect(await f.node('spare')).toMatchObject({ state: 'allocated', tenant: t.id });
  });

  it('a failure whose spare placement throws after the node left its tenant leaves the debt, and the retry makes it', async () => {
    const f = await startFleet({ now: () => t0 });
    closers.push(f.close);
    const t = await f.tenants.create('t');
    await f.templates.create({ name: 't', image: { name: 'gpu-os', version: '1' }, tenantId: t.id, nodeCount: 1, profile });
    await f.addNode('n1'); await f.activeIn(t.id, 'n1'); await f.addNode('spare');
    const realList = f.store.listNodes.bind(f.store);
    let broken = false;
    // A store hiccup after the node left its tenant (spareCandidates reads listNodes).
    (f.store as { listNodes: typeof f.store.listNodes }).listNodes = async () => { if (broken) throw new Error('connection reset'); return realList(); };
    const origTake = f.store.takeNodeFromTenant.bind(f.store);
    (f.store as { takeNodeFromTenant: typeof f.store.takeNodeFromTenant }).takeNodeFromTenant = async (...a) => { const r = await origTake(...a); broken = true; return r; };
    const failed = await f.lifecycle.apply('n1', 'fail', 'remediation', 'xid');
    broken = false;
    expect(failed.ok && failed.outcomes.find((o) => o.effect === 'request-replacement')?.outcome).toMatch(/^failed: connection reset/);
    expect(await f.store.owedReplacements()).toEqual([expect.objectContaining({ failedNodeId: 'n1', tenantId: t.id })]);
    const owed = createOwedReplacements({ store: f.store, events: f.events, tenants: f.tenants, templates: f.templates, reimages: f.reimages, now: () => t0 });
    expect(await owed.retry()).toBe(1);
    expect(await f.node('spare')).toMatchObject({ state: 'allocated', tenant: t.id });
  });
});
