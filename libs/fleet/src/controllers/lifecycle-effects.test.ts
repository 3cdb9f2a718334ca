import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { startFleet } from '../fleet-harness.test-kit.ts';
import { startLifecycleControllers } from './lifecycle-controllers.ts';
import { resumeInterruptedEffects } from './lifecycle-effects.ts';

const t0 = new Date('2026-11-21T10:00:00Z');
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

describe('lifecycle effects, whatever caused the transition', () => {
  it('revokes a retired node\'s certificates, whoever retired it (an operator, or acceptance retiring a repeat offender): review finding', async () => {
    const revoked: string[] = [];
    const f = await startFleet({ now: () => t0, revokeCertificates: async (nodeId) => (revoked.push(nodeId), 2) });
    closers.push(f.close);
    await f.addNode('n1');
    await f.lifecycle.apply('n1', 'fail', 'presence', 'offline');
    await f.lifecycle.apply('n1', 'repair', 'api ops', 'bad board');
    const retired = await f.lifecycle.apply('n1', 'retire', 'acceptance', 'failed acceptance 2 times after repair');
    expect(retired).toMatchObject({ ok: true, to: 'retired', effects: ['isolate-from-tenant', 'revoke-certificates', 'power-off'] });
    expect(revoked).toEqual(['n1']);
    expect(retired.ok && retired.outcomes.find((o) => o.effect === 'revoke-certificates')?.outcome).toBe('2 client certificates revoked');
  });

  it('replaces a tenant node the offline sweep fails: a spare is allocated to the tenant and reimaged, and the failed node leaves the tenant network', async () => {
    let now = t0;
    const f = await startFleet({ now: () => now, switchFor: ['n1', 'n2', 'spare'] });
    closers.push(f.close);
    const tenant = await f.tenants.create('training');
    for (const id of ['n1', 'n2', 'spare']) await f.addNode(id);
    await f.templates.create({ name: 'train', image: { name: 'gpu-os', version: '1' }, tenantId: tenant.id, nodeCount: 2, profile: { gpuModel: '', gpuCount: 0, minMemoryBytes: 0 } });
    for (const id of ['n1', 'n2']) await f.activeIn(tenant.id, id);
    expect(f.driver?.vlans.get('p-n1')).toBe(tenant.vlan);

    const controllers = startLifecycleControllers({ store: f.store, events: f.events, lifecycle: f.lifecycle, now: () => now, offlineFailureGraceMs: 300_000, onError: (e) => f.errors.push(e) });
    closers.push(async () => controllers.stop());
    await f.store.setPresence('n1', 'offline', now);
    now = new Date(t0.getTime() + 301_000);
    await controllers.sweep();

    expect(await f.node('n1')).toMatchObject({ state: 'failed', tenant: null });
    // Off the tenant's network: its port is back on the provisioning VLAN.
    expect(f.driver?.vlans.get('p-n1')).toBe(10);
    expect(f.driver?.vlans.get('p-n2')).toBe(tenant.vlan);
    expect(await f.node('spare')).toMatchObject({ state: 'allocated', tenant: tenant.id });
    const replacement = (await f.store.listOperations(10)).find((o) => o.kind === 'replace-node');
    expect(replacement).toMatchObject({ state: 'running', urgent: true, actor: 'presence', reason: expect.stringContaining('replaces n1') });
    expect((await f.store.operationNodes(replacement?.id ?? '')).map((n) => n.nodeId)).toEqual(['spare']);
    expect(f.seen).toContainEqual(expect.objectContaining({ type: 'remediation', nodeId: 'n1', action: 'replace', outcome: expect.stringContaining('replaced by spare') }));
    expect(f.errors).toEqual([]);
  });

  it('gives two failures at once (on two replicas\' shards) a spare each, never one spare to both tenants', async () => {
    const f = await startFleet({ now: () => t0 });
    closers.push(f.close);
    const [a, b] = [await f.tenants.create('alpha'), await f.tenants.create('beta')];
    for (const id of ['na', 'nb', 'spare-1', 'spare-2']) await f.addNode(id);
    for (const [tenant, id] of [[a, 'na'], [b, 'nb']] as const) {
      await f.templates.create({ name: `t-${tenant.name}`, image: { name: 'gpu-os', version: '1' }, tenantId: tenant.id, nodeCount: 1, profile: { gpuModel: '', gpuCount: 0, minMemoryBytes: 0 } });
      await f.activeIn(tenant.id, id);
    }
    // Both sweeps fail their node at the same moment; both pick from the same two spares.
    const [fa, fb] = await Promise.all([
      f.lifecycle.apply('na', 'fail', 'presence', 'offline'),
      f.lifecycle.apply('nb', 'fail', 'presence', 'offline'),
    ]);
    expect([fa.ok, fb.ok]).toEqual([true, true]);
    const spares = await Promise.all(['spare-1', 'spare-2'].map((id) => f.node(id)));
    expect(spares.map((n) => n.state)).toEqual(['allocated', 'allocated']);
    expect(spares.map((n) => n.tenant).sort()).toEqual([a.id, b.id].sort());
    expect(f.errors).toEqual([]);
  });

  it('allocates a node to one of two tenants asking at once, and leaves it wholly the winner\'s', async () => {
    const f = await startFleet({ now: () => t0 });
    closers.push(f.close);
    const [a, b] = [await f.tenants.create('alpha'), await f.tenants.create('beta')];
    await f.addNode('n1');
    const results = await Promise.allSettled([f.tenants.allocateNode(a.id, 'n1', 'op'), f.tenants.allocateNode(b.id, 'n1', 'op')]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const winner = results[0]?.status === 'fulfilled' ? a.id : b.id;
    expect(await f.node('n1')).toMatchObject({ state: 'allocated', tenant: winner });
  });

  it('leaves a node it could not allocate (the store failed) with no tenant, so it can be allocated again', async () => {
    const base = openSqliteFleetStore({ path: ':memory:' });
    let failing = false;
    const store: FleetStore = {
      ...base,
      transitionNode: async (...args) => {
        if (failing) throw new Error('Connection terminated unexpectedly');
        return base.transitionNode(...args);
      },
    };
    const f = await startFleet({ now: () => t0, store });
    closers.push(f.close);
    const tenant = await f.tenants.create('alpha');
    await f.addNode('n1');
    failing = true;
    await expect(f.tenants.allocateNode(tenant.id, 'n1', 'op')).rejects.toThrow('Connection terminated');
    failing = false;
    expect(await f.node('n1')).toMatchObject({ state: 'available', tenant: null });
    await f.tenants.allocateNode(tenant.id, 'n1', 'op');
    expect(await f.node('n1')).toMatchObject({ state: 'allocated', tenant: tenant.id });
  });

  it('after a restart, carries out the effects of a failure whose manager stopped before them: the tenant node is replaced, once', async () => {
    const f = await startFleet({ now: () => t0, switchFor: ['n1', 'spare'] });
    closers.push(f.close);
    const tenant = await f.tenants.create('training');
    for (const id of ['n1', 'spare']) await f.addNode(id);
    await f.templates.create({ name: 'train', image: { name: 'gpu-os', version: '1' }, tenantId: tenant.id, nodeCount: 1, profile: { gpuModel: '', gpuCount: 0, minMemoryBytes: 0 } });
    await f.activeIn(tenant.id, 'n1');
    // The offline sweep's transition is written; the manager is killed before its effects run (they run after the write).
    expect(await f.store.transitionNode('n1', 'active', 'failed', 'fail', { actor: 'presence', reason: 'offline for more than 600 s', at: t0 })).toBe(true);

    // Run now and then by a running replica: a failure made since the given time is left to whoever made it.
    expect(await resumeInterruptedEffects(f.store, f.executeEffects, t0)).toBe(0);
    expect(await f.resumeEffects()).toBe(1);
    expect(await f.resumeEffects()).toBe(0);

    expect(await f.node('n1')).toMatchObject({ state: 'failed', tenant: null });
    expect(f.driver?.vlans.get('p-n1')).toBe(10);
    expect(await f.node('spare')).toMatchObject({ state: 'allocated', tenant: tenant.id });
    const replacements = (await f.store.listOperations(10)).filter((o) => o.kind === 'replace-node');
    expect(replacements).toEqual([expect.objectContaining({ actor: 'presence', reason: expect.stringContaining('replaces n1') })]);
    expect(f.errors).toEqual([]);
  });

  it('the effects of one failure carried out twice (a replica resuming what another still runs) replace the node once', async () => {
    const f = await startFleet({ now: () => t0 });
    closers.push(f.close);
    const tenant = await f.tenants.create('training');
    for (const id of ['n1', 'spare-1', 'spare-2']) await f.addNode(id);
    await f.templates.create({ name: 'train', image: { name: 'gpu-os', version: '1' }, tenantId: tenant.id, nodeCount: 1, profile: { gpuModel: '', gpuCount: 0, minMemoryBytes: 0 } });
    await f.activeIn(tenant.id, 'n1');
    expect(await f.store.transitionNode('n1', 'active', 'failed', 'fail', { actor: 'presence', reason: 'offline for more than 600 s', at: t0 })).toBe(true);
    const change = {
      nodeId: 'n1', from: 'active', to: 'failed', event: 'fail', actor: 'presence', reason: 'offline for more than 600 s',
      effects: ['isolate-from-tenant', 'request-replacement'], tenant: tenant.id, at: t0,
    } as const;

    // Both read the node while it still held its tenant; the second gets to the replacement after the first is done.
    const [first, second] = [await f.executeEffects(change), await f.executeEffects(change)];

    expect(first.find((o) => o.effect === 'request-replacement')?.operationId).not.toBeNull();
    expect(second.find((o) => o.effect === 'request-replacement')).toMatchObject({ operationId: null, outcome: expect.stringContaining('no replacement') });
    expect((await f.store.listOperations(10)).filter((o) => o.kind === 'replace-node')).toHaveLength(1);
    expect((await f.store.listNodes()).filter((n) => n.tenant === tenant.id)).toHaveLength(1);
    expect(f.errors).toEqual([]);
  });
});
