import { afterEach, describe, expect, it, vi } from 'vitest';
import { startFleet } from '../fleet-harness.test-kit.ts';
import { owedWithSpare, replaceOps, retrier, servingIn, staleAfter, t0, tenantOf } from './owed-replacements.test-kit.ts';

const stale = staleAfter();
const closers: Array<() => Promise<void>> = [];
afterEach(async () => { for (const c of closers.splice(0).reverse()) await c(); });

// A debt's placer notes its spare before giving it to the tenant, and the next claimer finishes what a dead or failed
// placer left: each case a hostile review (review2) broke, one failure one spare and no debt settled without one.
describe('a replacement owed, finished after its placer died or failed', () => {
  it('a noted spare that failed before its reimage was made is replaced by its own failure, not by a second spare for the first', async () => {
    const { f, tenant } = await owedWithSpare(closers);
    // The placer is killed between allocate and reimages.create.
    void retrier(f, () => t0, { reimages: { ...f.reimages, create: () => new Promise(() => undefined) } }).retry();
    await vi.waitFor(async () => expect(await f.node('spare')).toMatchObject({ state: 'allocated', tenant: tenant.id }));
    // The noted spare fails: its own effects owe and place its replacement at once.
    await f.addNode('spare-2');
    await f.lifecycle.apply('spare', 'fail', 'remediation', 'xid 48');
    expect(await servingIn(f, tenant.id)).toEqual(['spare-2']);
    await f.addNode('spare-3');
    await retrier(f, stale).retry();
    // Template size 1; one failure (n1) plus one failure (spare) = two spares in total, one serving.
    expect(await servingIn(f, tenant.id)).toEqual(['spare-2']);
  });

  it('a spare whose reimage could not be created is not released: it stays noted, and the next makes its reimage; the debt is never settled without a spare', async () => {
    const { f, tenant } = await owedWithSpare(closers);
    const faulty = retrier(f, () => t0, {
      reimages: { ...f.reimages, create: () => Promise.reject(new Error('connection reset')) },
    });
    expect(await faulty.retry()).toBe(0);
    expect(await f.node('spare')).toMatchObject({ state: 'allocated', tenant: tenant.id });
    await f.addNode('spare-2');
    await retrier(f).retry();
    // Either a new spare serves, or the debt is still owed: never "settled" with the tenant one node short.
    const owed = await f.store.owedReplacements();
    expect({ serving: await servingIn(f, tenant.id), owed: owed.length }).not.toEqual({ serving: [], owed: 0 });
  });

  it('a slow placer (not dead) past its claim takes nothing back from the spare the next one finished', async () => {
    const { f, tenant } = await owedWithSpare(closers);
    let open!: () => void;
    const gate = new Promise<void>((r) => { open = r; });
    const slow = retrier(f, () => t0, { reimages: { ...f.reimages, create: async (r) => { await gate; return f.reimages.create(r); } } });
    const slowDone = slow.retry();
    await vi.waitFor(async () => expect(await f.node('spare')).toMatchObject({ state: 'allocated', tenant: tenant.id }));
    expect(await retrier(f, stale).retry()).toBe(1);
    expect(await replaceOps(f)).toHaveLength(1);
    open();
    await slowDone;
    expect(await f.store.owedReplacements()).toEqual([]);
    // The spare holding the finisher's replace-node reimage must stay the tenant's.
    expect(await f.node('spare')).toMatchObject({ tenant: tenant.id });
  });

  it('two debts of one tenant racing for one spare: one notes it, the other stays owed (two failures, two spares)', async () => {
    const f = await startFleet({ now: () => t0 });
    closers.push(f.close);
    const tenant = await tenantOf(f, 2);
    await f.lifecycle.apply('n1', 'fail', 'remediation', 'xid 79');
    await f.lifecycle.apply('n2', 'fail', 'remediation', 'xid 79');
    expect(await f.store.owedReplacements()).toHaveLength(2);
    await f.addNode('spare');
    const realNote = f.store.noteOwedSpare.bind(f.store);
    let arrived = 0; let both!: () => void;
    const bothNoted = new Promise<void>((r) => { both = r; });
    (f.store as { noteOwedSpare: typeof f.store.noteOwedSpare }).noteOwedSpare = async (...a) => {
      const noted = await realNote(...a);
      if ((arrived += 1) === 2) both();
      await bothNoted;
      return noted;
    };
    // Replica A works n1's debt, replica B n2's (n1's claim held by A), both pick the one spare.
    const a = retrier(f).retry();
    await vi.waitFor(() => expect(arrived).toBe(1));
    const b = retrier(f).retry();
    await Promise.all([a, b]);
    (f.store as { noteOwedSpare: typeof f.store.noteOwedSpare }).noteOwedSpare = realNote;
    expect(await servingIn(f, tenant.id)).toEqual(['spare']);
    // The loser's note was refused (the spare is the winner's): it notes nothing.
    expect((await f.store.owedReplacements()).map((o) => o.spareNodeId)).toEqual(['']);
    await retrier(f).retry();
    // Two failures, one spare: one replacement is still owed.
    expect(await f.store.owedReplacements()).toHaveLength(1);
  });

  it('a placer whose settle failed after its reimage finished: the next settles, and reimages no serving node again', async () => {
    const { f, tenant } = await owedWithSpare(closers);
    const realSettle = f.store.settleOwedReplacement.bind(f.store);
    (f.store as { settleOwedReplacement: typeof realSettle }).settleOwedReplacement = async () => { throw new Error('connection reset'); };
    await retrier(f).retry();
    (f.store as { settleOwedReplacement: typeof realSettle }).settleOwedReplacement = realSettle;
    const [op] = await replaceOps(f);
    expect(op).toBeDefined();
    // The reimage completes: the spare serves the tenant with its image.
    await f.reimages.settled();
    const [entry] = await f.store.operationNodes(op!.id);
    await f.store.saveOperationNode(op!.id, 'spare', { ...entry!.progress, phase: 'done' }, null, t0);
    await f.store.finishOperation(op!.id, 'succeeded' as never, t0);
    if ((await f.node('spare')).state === 'allocated') await f.lifecycle.apply('spare', 'provision', 'test', 'img');
    if ((await f.node('spare')).state === 'provisioning') await f.lifecycle.apply('spare', 'provisioned', 'test', 'img');
    expect(await f.node('spare')).toMatchObject({ state: 'active', tenant: tenant.id });
    expect(await f.store.owedReplacements()).toHaveLength(1);
    await retrier(f, stale).retry();
    expect(await f.store.owedReplacements()).toEqual([]);
    expect(await replaceOps(f)).toHaveLength(1);
  });

  it('a noted spare an operator took back, the tenant brought back to size by hand: the debt is dropped, no node more', async () => {
    const { f, tenant } = await owedWithSpare(closers);
    void retrier(f, () => t0, { reimages: { ...f.reimages, create: () => new Promise(() => undefined) } }).retry();
    await vi.waitFor(async () => expect(await f.node('spare')).toMatchObject({ state: 'allocated', tenant: tenant.id }));
    await f.tenants.releaseNode(tenant.id, 'spare', 'operator');
    await f.addNode('added');
    await f.tenants.allocateNode(tenant.id, 'added', 'operator');
    await f.addNode('spare-2');
    await retrier(f, stale).retry();
    expect(await servingIn(f, tenant.id)).toEqual(['added']);
  });
});
