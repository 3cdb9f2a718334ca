import { beforeEach, describe, expect, it, vi } from 'vitest';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore, type FleetStore } from '@metalfleet/store';
import { FleetEvents } from '../events/fleet-events.ts';
import { createLifecycle, type Lifecycle } from './lifecycle.ts';
import { startLifecycleControllers } from './lifecycle-controllers.ts';

let store: FleetStore;
let events: FleetEvents;
let lifecycle: Lifecycle;
let now: Date;
let controllers: ReturnType<typeof startLifecycleControllers>;
const errors: unknown[] = [];

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i += 1) await new Promise((r) => setImmediate(r));
}

async function node(id: string): Promise<void> {
  await store.createNode({ id, hostname: id, identity: { systemUuid: id, systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '', credentialHash: 'h', at: now });
}

const critical = { component: 'gpu:0000:18:00', code: 'xid-79', severity: 'critical' as const, remediation: 'reboot' as const, message: 'fell off the bus', since: new Date() };

beforeEach(() => {
  store = openSqliteFleetStore({ path: ':memory:' });
  events = new FleetEvents();
  now = new Date('2026-11-21T10:00:00Z');
  lifecycle = createLifecycle({ store, events, now: () => now });
  controllers = startLifecycleControllers({ store, events, lifecycle, now: () => now, offlineFailureGraceMs: 300_000, onError: (e) => errors.push(e) });
});

describe('lifecycle controllers', () => {
  it('inspects a registered node and makes it available on a healthy digest', async () => {
    await node('n1');
    events.emit({ type: 'node-registered', nodeId: 'n1', returning: false, via: 'new', at: now });
    await settle();
    expect((await store.getNode('n1'))?.state).toBe('inspecting');
    events.emit({ type: 'health-digest', nodeId: 'n1', conditions: 0, at: now });
    await settle();
    expect((await store.getNode('n1'))?.state).toBe('available');
    expect((await store.history('n1')).map((h) => `${h.event} by ${h.actor}`)).toEqual(['inspect by registration', 'inspection-passed by inspection']);
  });

  it('passes inspection on a digest taken by another replica before the registration\'s inspect committed (nodes sat in inspecting until the next digest)', async () => {
    // This replica sees only the digest: the registration, and its inspect, are another replica's.
    await node('n7');
    events.emit({ type: 'health-digest', nodeId: 'n7', conditions: 0, at: now });
    await settle();
    expect((await store.getNode('n7'))?.state).toBe('available');
    // The registration's replica comes to it late: nothing more happens.
    expect(await lifecycle.apply('n7', 'inspect', 'registration', 'registered in the discovery image')).toMatchObject({ ok: false });
    expect((await store.history('n7')).map((h) => h.event)).toEqual(['inspect', 'inspection-passed']);
  });

  it('passes inspection on a digest that came before the inspect transition committed (PostgreSQL: nodes sat in inspecting for 300 s)', async () => {
    // A store that commits transitions slowly, as PostgreSQL over the network does.
    const slow = new Proxy(store, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver) as unknown;
        if (name !== 'transitionNode' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
        return async (...args: unknown[]) => {
          await new Promise((r) => setTimeout(r, 20));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    controllers.stop();
    lifecycle = createLifecycle({ store: slow, events, now: () => now });
    controllers = startLifecycleControllers({ store: slow, events, lifecycle, now: () => now, offlineFailureGraceMs: 300_000, onError: (e) => errors.push(e) });
    await node('n6');
    events.emit({ type: 'node-registered', nodeId: 'n6', returning: false, via: 'new', at: now });
    events.emit({ type: 'health-digest', nodeId: 'n6', conditions: 0, at: now });
    await vi.waitFor(async () => expect((await store.getNode('n6'))?.state).toBe('available'), { timeout: 2000 });
    expect((await store.history('n6')).map((h) => h.event)).toEqual(['inspect', 'inspection-passed']);
  });

  it('fails inspection on a critical condition', async () => {
    await node('n2');
    await lifecycle.apply('n2', 'inspect', 'test', 'start');
    await store.replaceConditions('n2', [critical]);
    events.emit({ type: 'health-digest', nodeId: 'n2', conditions: 1, at: now });
    await settle();
    expect(await store.history('n2')).toContainEqual(expect.objectContaining({ event: 'inspection-failed', reason: 'gpu:0000:18:00 xid-79' }));
  });

  it('decides a node an operator retried or marked repaired at once when it is online, from its stored conditions; an offline one at its digest', async () => {
    for (const id of ['r1', 'r2', 'r3']) {
      await node(id);
      for (const e of ['inspect', 'inspection-failed', 'repair'] as const) await lifecycle.apply(id, e, 'test', 'setup');
    }
    await store.setPresence('r1', 'online', now);
    await store.setPresence('r2', 'online', now);
    await store.replaceConditions('r2', [critical]);
    for (const id of ['r1', 'r2', 'r3']) await lifecycle.apply(id, 'repaired', 'operator', 'GPU swapped');
    await settle();
    expect([(await store.getNode('r1'))?.state, (await store.getNode('r2'))?.state, (await store.getNode('r3'))?.state]).toEqual(['available', 'failed', 'inspecting']);
    expect((await store.history('r2')).at(-1)).toMatchObject({ event: 'inspection-failed', reason: 'gpu:0000:18:00 xid-79' });
    events.emit({ type: 'health-digest', nodeId: 'r3', conditions: 0, at: now });
    await settle();
    expect((await store.getNode('r3'))?.state).toBe('available');
    // Retried from failed: the same.
    await lifecycle.apply('r2', 'retry', 'operator', 'reseated');
    await settle();
    expect((await store.getNode('r2'))?.state).toBe('failed');
    await store.replaceConditions('r2', []);
    await lifecycle.apply('r2', 'retry', 'operator', 'reseated again');
    await settle();
    expect((await store.getNode('r2'))?.state).toBe('available');
  });

  it('makes no retry, repaired or retire for a node still in a tenant, whoever asks (its replacement is pending)', async () => {
    await node('t1');
    for (const e of ['inspect', 'inspection-failed'] as const) await lifecycle.apply('t1', e, 'test', 'setup');
    await store.setNodeTenant('t1', 'tenant-a');
    for (const event of ['retry', 'retire'] as const) {
      expect(await lifecycle.apply('t1', event, 'operator', 'x')).toEqual({ ok: false, from: 'failed', reason: `${event} is not made for node t1 while it is in tenant tenant-a` });
    }
    expect((await store.getNode('t1'))?.state).toBe('failed');
  });

  it('leaves a node in service with a critical condition to the remediation controller', async () => {
    await node('n3');
    for (const e of ['inspect', 'inspection-passed', 'allocate', 'provision', 'provisioned'] as const) await lifecycle.apply('n3', e, 'test', 'setup');
    await store.replaceConditions('n3', [critical]);
    events.emit({ type: 'health-changed', nodeId: 'n3', eventId: 'e1', changes: [], at: now });
    events.emit({ type: 'health-digest', nodeId: 'n3', conditions: 1, at: now });
    await settle();
    expect((await store.getNode('n3'))?.state).toBe('active');
  });

  it('fails an active node offline past the failure grace, not before', async () => {
    await node('n4');
    for (const e of ['inspect', 'inspection-passed', 'allocate', 'provision', 'provisioned'] as const) await lifecycle.apply('n4', e, 'test', 'setup');
    await store.setPresence('n4', 'offline', now);
    now = new Date(now.getTime() + 200_000);
    await controllers.sweep();
    expect((await store.getNode('n4'))?.state).toBe('active');
    now = new Date(now.getTime() + 200_000);
    await controllers.sweep();
    expect((await store.getNode('n4'))?.state).toBe('failed');
    expect((await store.history('n4')).at(-1)).toMatchObject({ event: 'fail', actor: 'presence', reason: 'offline for more than 300 s' });
  });

  it('refuses a transition the state machine does not allow, changing nothing', async () => {
    await node('n5');
    expect(await lifecycle.apply('n5', 'provisioned', 'test', 'bogus')).toMatchObject({ ok: false, reason: expect.stringContaining('not allowed in state discovered') });
    expect(await store.history('n5')).toEqual([]);
    expect(await lifecycle.apply('nope', 'inspect', 'test', 'x')).toMatchObject({ ok: false, reason: 'no node nope' });
    expect(errors).toEqual([]);
  });
});
