// Replacements owed when a step is cut halfway: an allocation that wrote the
// tenant and nothing else, an operator acting on the noted spare, a template
// whose image went, a placer stalled past its claim. What a hostile review
// (review3) broke: a debt settled with no spare, a spare stuck the tenant's and
// unusable, a spare held for a debt that cannot take it, two spares for one failure.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sha256, startFleet } from '../fleet-harness.test-kit.ts';
import { never, owedWithSpare, replaceOps, retrier, servingIn, staleAfter, t0, tenantOf } from './owed-replacements.test-kit.ts';

const stale = staleAfter;
const closers: Array<() => Promise<void>> = [];
afterEach(async () => { for (const c of closers.splice(0).reverse()) await c(); });

describe('a replacement owed, cut halfway', () => {
  it('an allocation cut after the tenant was written (transition and take-back failed) neither settles the debt nor keeps the spare', async () => {
    const { f, tenant } = await owedWithSpare(closers, { nodePrefix: 'training-' });
    // allocateNode: giveNodeToTenant written, then lifecycle.apply and its catch's takeNodeFromTenant hit the hiccup.
    const faulty = retrier(f, () => t0, { tenants: { ...f.tenants, allocateNode: async (t, n) => { await f.store.giveNodeToTenant(n, t); throw new Error('connection reset'); } } });
    expect(await faulty.retry()).toBe(0);
    expect(await f.node('spare')).toMatchObject({ state: 'available', tenant: tenant.id });
    await f.addNode('spare-2');
    await retrier(f, stale()).retry();
    const owed = await f.store.owedReplacements();
    expect({ serving: await servingIn(f, tenant.id), owed: owed.length }).not.toEqual({ serving: [], owed: 0 });
  });

  it('a spare given only half is taken back by the next placer, and given again whole: the replacement', async () => {
    const { f, tenant } = await owedWithSpare(closers, { nodePrefix: 'training-' });
    const faulty = retrier(f, () => t0, { tenants: { ...f.tenants, allocateNode: async (t, n) => { await f.store.giveNodeToTenant(n, t); throw new Error('connection reset'); } } });
    await faulty.retry();
    expect(await f.node('spare')).toMatchObject({ state: 'available', tenant: tenant.id });
    expect(await retrier(f, stale()).retry()).toBe(1);
    expect(await f.node('spare')).toMatchObject({ state: 'allocated', tenant: tenant.id });
    expect((await f.store.operationNodes((await replaceOps(f))[0]!.id)).map((n) => n.nodeId)).toEqual(['spare']);
    expect(await f.store.owedReplacements()).toEqual([]);
  });

  it('the same with the placer killed between writing the tenant and the allocation', async () => {
    const { f, tenant } = await owedWithSpare(closers, { nodePrefix: 'training-' });
    void retrier(f, () => t0, { tenants: { ...f.tenants, allocateNode: async (t, n) => { await f.store.giveNodeToTenant(n, t); return never(); } } }).retry();
    await vi.waitFor(async () => expect(await f.node('spare')).toMatchObject({ state: 'available', tenant: tenant.id }));
    await f.addNode('spare-2');
    await retrier(f, stale()).retry();
    const owed = await f.store.owedReplacements();
    expect({ serving: await servingIn(f, tenant.id), owed: owed.length }).not.toEqual({ serving: [], owed: 0 });
  });

  for (const act of ['retires', 'releases (cut before the tenant is cleared)', 'fails'] as const) {
    it(`the placer killed before the reimage, the operator ${act} the noted spare: the failure is still replaced or owed`, async () => {
      const { f, tenant } = await owedWithSpare(closers, { nodePrefix: 'training-' });
      void retrier(f, () => t0, { reimages: { ...f.reimages, create: never } }).retry();
      await vi.waitFor(async () => expect(await f.node('spare')).toMatchObject({ state: 'allocated', tenant: tenant.id }));
      if (act === 'retires') await f.lifecycle.apply('spare', 'retire', 'operator', 'bad DIMM');
      else if (act === 'fails') { await f.store.setNodeTenant('spare', null, []).catch(() => undefined); await f.store.giveNodeToTenant('spare', tenant.id).catch(() => undefined); await f.lifecycle.apply('spare', 'fail', 'operator', 'x'); }
      else await f.lifecycle.apply('spare', 'release', 'operator', 'released');
      const state = (await f.node('spare')).state;
      await f.addNode('spare-2');
      await retrier(f, stale()).retry();
      const owed = await f.store.owedReplacements();
      expect({ state, serving: await servingIn(f, tenant.id), owed: owed.length }).not.toEqual({ state, serving: [], owed: 0 });
    });
  }

  it('a debt whose image is gone holds no spare: another tenant\'s failure gets it', async () => {
    const f = await startFleet({ now: () => t0 });
    closers.push(f.close);
    await f.store.putImage({ name: 'other-os', version: '1', kernelUrl: 'http://m/k', initrdUrl: 'http://m/i', rootUrl: 'http://m/r', sha256, cmdline: '' }, t0);
    const a = await tenantOf(f, 1, { name: 'alpha', nodePrefix: 'alpha-' });
    const b = await tenantOf(f, 1, { name: 'beta', image: { name: 'other-os', version: '1' }, nodePrefix: 'beta-' });
    await f.lifecycle.apply('alpha-n1', 'fail', 'remediation', 'xid 79');
    await f.addNode('spare');
    // alpha's placer notes the spare and is killed before allocating it.
    void retrier(f, () => t0, { tenants: { ...f.tenants, allocateNode: never } }).retry();
    await vi.waitFor(async () => expect((await f.store.owedReplacements())[0]?.spareNodeId).toBe('spare'));
    // alpha's image is deleted (a documented case: its debt takes no spare).
    expect(await f.store.deleteImage({ name: 'gpu-os', version: '1' })).toBe(true);
    await f.lifecycle.apply('beta-n1', 'fail', 'remediation', 'xid 79');
    for (let k = 1; k <= 4; k += 1) await retrier(f, stale(k)).retry();
    // alpha's debt stays owed and notes nothing (its image is gone); beta, owed, got the spare that fits it.
    expect((await f.store.owedReplacements()).map((o) => `${o.tenantId === a.id ? 'alpha' : 'beta'}:${o.spareNodeId}`)).toEqual(['alpha:']);
    expect(await servingIn(f, b.id)).toEqual(['spare']);
  });

  it('a placer stalled past its claim between noting and allocating gives no second spare', async () => {
    const { f, tenant } = await owedWithSpare(closers, { nodePrefix: 'training-' });
    await f.addNode('spare-2');
    let open!: () => void;
    const gate = new Promise<void>((r) => { open = r; });
    const slow = retrier(f, () => t0, { tenants: { ...f.tenants, allocateNode: async (t, n, a) => { await gate; return f.tenants.allocateNode(t, n, a); } } }).retry();
    await vi.waitFor(async () => expect((await f.store.owedReplacements())[0]?.spareNodeId).not.toBe(''));
    expect(await retrier(f, stale()).retry()).toBe(1);
    open();
    await slow;
    expect(await servingIn(f, tenant.id)).toHaveLength(1);
    expect(await replaceOps(f)).toHaveLength(1);
  });

});
