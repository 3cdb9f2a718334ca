import { afterEach, describe, expect, it, vi } from 'vitest';
import { startFleet } from '../fleet-harness.test-kit.ts';
import { createOwedReplacements, owedClaimStaleMs } from './owed-replacements.ts';

const t0 = new Date('2026-11-21T10:00:00Z');
const closers: Array<() => Promise<void>> = [];
afterEach(async () => { for (const c of closers.splice(0).reverse()) await c(); });
const profile = { gpuModel: '', gpuCount: 0, minMemoryBytes: 0 };
type Fleet = Awaited<ReturnType<typeof startFleet>>;

/** A tenant whose template is one node, n1, active in it. */
async function oneNodeTenant(f: Fleet) {
  const tenant = await f.tenants.create('training');
  await f.addNode('n1');
  await f.templates.create({ name: 'train', image: { name: 'gpu-os', version: '1' }, tenantId: tenant.id, nodeCount: 1, profile });
  await f.activeIn(tenant.id, 'n1');
  return tenant;
}

/** What a replica retries owed replacements with. */
const retrier = (f: Fleet, now = () => t0) => createOwedReplacements({ store: f.store, events: f.events, tenants: f.tenants, templates: f.templates, reimages: f.reimages, now });

// Replacements owed, as a hostile review broke them: a debt that cannot be worked on, a replica that dies holding one,
// and a failure whose placement throws after the node left its tenant.
describe('replacements owed', () => {
  it('owes a replacement no spare fits, and makes it once when a spare is ready, whichever replicas retry', async () => {
    const f = await startFleet({ now: () => t0 });
    closers.push(f.close);
    const tenant = await oneNodeTenant(f);
    const owed = [1, 2].map(() => retrier(f));

    const failed = await f.lifecycle.apply('n1', 'fail', 'remediation', 'xid 79: GPU fell off the bus');
    expect(failed.ok && failed.outcomes.find((o) => o.effect === 'request-replacement')).toMatchObject({
      operationId: null, outcome: expect.stringMatching(new RegExp(`^no replacement yet: .*; owed to tenant ${tenant.id}, made as soon as a spare fits$`)),
    });
    expect(await f.store.owedReplacements()).toEqual([expect.objectContaining({ failedNodeId: 'n1', tenantId: tenant.id, reason: 'xid 79: GPU fell off the bus' })]);
    expect(await owed[0]!.retry()).toBe(0);

    await f.addNode('spare');
    // Two replicas retrying at once: one replacement.
    expect((await Promise.all(owed.map((o) => o.retry()))).sort()).toEqual([0, 1]);
    expect(await f.node('spare')).toMatchObject({ state: 'allocated', tenant: tenant.id });
    expect((await f.store.listOperations(10)).filter((o) => o.kind === 'replace-node')).toEqual([expect.objectContaining({ reason: expect.stringContaining('replaces n1') })]);
    expect(await f.store.owedReplacements()).toEqual([]);
    expect(f.seen).toContainEqual(expect.objectContaining({ type: 'remediation', nodeId: 'n1', action: 'replace', outcome: expect.stringMatching(/^replaced by spare (\(same rack\) )?\(owed since .*\), reimaging in operation /) }));
    await f.addNode('spare-2');
    expect(await owed[1]!.retry()).toBe(0);
    expect(await f.node('spare-2')).toMatchObject({ state: 'available', tenant: null });
    expect(f.errors).toEqual([]);
  });

  it('drops a replacement owed to a tenant an operator brought back to its template\'s size: no node more than the template (review)', async () => {
    const f = await startFleet({ now: () => t0 });
    closers.push(f.close);
    const tenant = await oneNodeTenant(f);
    await f.lifecycle.apply('n1', 'fail', 'remediation', 'xid 79');
    expect(await f.store.owedReplacements()).toHaveLength(1);
    await f.addNode('added');
    await f.tenants.allocateNode(tenant.id, 'added', 'operator');
    await f.addNode('spare');
    const owed = retrier(f);
    expect(await owed.retry()).toBe(0);
    expect(await f.store.owedReplacements()).toEqual([]);
    expect(await f.node('spare')).toMatchObject({ state: 'available', tenant: null });
    expect(f.seen).toContainEqual(expect.objectContaining({ type: 'remediation', nodeId: 'n1', outcome: expect.stringContaining('has its template\'s 1 nodes again (1 serving)') }));
  });

  it('drops a replacement owed to a tenant that has no template any more, saying so', async () => {
    const f = await startFleet({ now: () => t0 });
    closers.push(f.close);
    const owed = retrier(f);
    await f.store.oweReplacement({ failedNodeId: 'gone', tenantId: 'no-such-tenant', reason: 'offline', actor: 'presence', at: t0 });
    expect(await owed.retry()).toBe(0);
    expect(await f.store.owedReplacements()).toEqual([]);
    expect(f.seen).toContainEqual(expect.objectContaining({ type: 'remediation', nodeId: 'gone', outcome: expect.stringContaining('is gone or has no template any more; the replacement owed since') }));
  });
});

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
    const survivor = retrier(f, () => now);
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
    expect(await retrier(f).retry()).toBe(1);
    expect(await f.node('spare')).toMatchObject({ state: 'allocated', tenant: t.id });
  });

  it('a spare given to the tenant whose reimage was never made (the store away, or the placer killed) is finished by the next, not counted as served (review)', async () => {
    for (const fault of ['store down', 'killed'] as const) {
      const f = await startFleet({ now: () => t0 });
      closers.push(f.close);
      const tenant = await oneNodeTenant(f);
      await f.lifecycle.apply('n1', 'fail', 'remediation', 'xid 79');
      await f.addNode('spare');
      const down = () => Promise.reject(new Error('connection reset'));
      const faulty = createOwedReplacements({ store: f.store, events: f.events, templates: f.templates, now: () => t0, onError: () => undefined, tenants: f.tenants,
        reimages: { ...f.reimages, create: fault === 'store down' ? down : () => new Promise(() => undefined) } });
      void faulty.retry();
      await vi.waitFor(async () => expect(await f.node('spare')).toMatchObject({ state: 'allocated', tenant: tenant.id }));
      await f.addNode('spare-2');
      // The next retry (once the dead placer's claim is stale) makes the reimage of that spare: no second spare.
      expect(await retrier(f, () => new Date(t0.getTime() + owedClaimStaleMs + 1)).retry()).toBe(1);
      expect(await f.store.owedReplacements()).toEqual([]);
      expect((await f.store.listOperations(10)).filter((o) => o.kind === 'replace-node')).toEqual([expect.objectContaining({ reason: expect.stringContaining('replaces n1') })]);
      expect((await f.store.operationNodes((await f.store.listOperations(1))[0]!.id)).map((n) => n.nodeId)).toEqual(['spare']);
      expect(await f.node('spare-2')).toMatchObject({ state: 'available', tenant: null });
    }
  });

  it('a template whose image cannot be installed takes no spare, however often the retry runs (review)', async () => {
    const f = await startFleet({ now: () => t0 });
    closers.push(f.close);
    await oneNodeTenant(f);
    await f.lifecycle.apply('n1', 'fail', 'remediation', 'xid 79');
    for (const s of ['s1', 's2']) await f.addNode(s);
    expect(await f.store.deleteImage({ name: 'gpu-os', version: '1' })).toBe(true);
    const owed = retrier(f);
    for (let pass = 0; pass < 3; pass += 1) expect(await owed.retry()).toBe(0);
    for (const s of ['s1', 's2']) expect(await f.node(s)).toMatchObject({ state: 'available', tenant: null });
    expect(await f.store.owedReplacements()).toHaveLength(1);
  });
});
