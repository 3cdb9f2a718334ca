import { describe, expect, it } from 'vitest';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore } from '@metalfleet/store';
import { FleetEvents, type FleetEvent } from '../events/fleet-events.ts';
import { createPresenceTracker } from './presence-tracker.ts';

describe('presence', () => {
  it('goes online on status or heartbeat, offline on last will or after the grace period', async () => {
    const store = openSqliteFleetStore({ path: ':memory:' });
    let now = new Date('2026-11-21T10:00:00Z');
    const seen: FleetEvent[] = [];
    const events = new FleetEvents();
    events.on((e) => seen.push(e));
    const tracker = createPresenceTracker({ store, events, now: () => now, heartbeatGraceMs: 30_000 });
    await store.createNode({ id: 'n1', hostname: 'h', identity: { systemUuid: 'u', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '', credentialHash: 'x', at: now });

    await tracker.statusReported('n1', 'online', 'agent online');
    expect((await store.getNode('n1'))?.presence).toBe('online');
    await tracker.statusReported('n1', 'offline', 'last will');
    expect((await store.getNode('n1'))?.presence).toBe('offline');
    await tracker.heartbeat('n1');
    expect((await store.getNode('n1'))?.presence).toBe('online');

    now = new Date(now.getTime() + 20_000);
    expect(await tracker.sweep()).toEqual([]);
    now = new Date(now.getTime() + 20_000);
    expect(await tracker.sweep()).toEqual(['n1']);
    expect((await store.getNode('n1'))?.presence).toBe('offline');
    expect(seen.filter((e) => e.type === 'presence-changed').map((e) => e.type === 'presence-changed' && e.presence))
      .toEqual(['online', 'offline', 'online', 'offline']);
  });

  it('with two replicas, a last will of the session an agent restart replaced, stored after the new session\'s online, leaves the node online', async () => {
    const store = openSqliteFleetStore({ path: ':memory:' });
    const now = new Date('2026-11-21T10:00:00Z');
    const events = new FleetEvents();
    const [first, second] = [1, 2].map(() => createPresenceTracker({ store, events, now: () => now, heartbeatGraceMs: 30_000 }));
    await store.createNode({ id: 'n1', hostname: 'h', identity: { systemUuid: 'u', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '', credentialHash: 'x', at: now });
    await first!.statusReported('n1', 'online', 'agent online', { session: 'session-a', connection: 0 });
    await first!.statusReported('n1', 'online', 'agent online', { session: 'session-b', connection: 0 });
    await second!.statusReported('n1', 'offline', 'last will', { session: 'session-a', connection: 0 });
    expect((await store.getNode('n1'))?.presence).toBe('online');
    await second!.statusReported('n1', 'offline', 'last will', { session: 'session-b', connection: 0 });
    expect((await store.getNode('n1'))?.presence).toBe('offline');
  });

  it('with two replicas, a node one marks offline while the other hears from it is online again at the other\'s next flush', async () => {
    const store = openSqliteFleetStore({ path: ':memory:' });
    let now = new Date('2026-11-21T10:00:00Z');
    const events = new FleetEvents();
    const hearing = createPresenceTracker({ store, events, now: () => now, heartbeatGraceMs: 30_000 });
    const sweeping = createPresenceTracker({ store, events, now: () => now, heartbeatGraceMs: 30_000 });
    await store.createNode({ id: 'n1', hostname: 'h', identity: { systemUuid: 'u', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '', credentialHash: 'x', at: now });
    await hearing.heartbeat('n1');
    await hearing.flush();
    // The hearing replica's flush was late (a slow store, a pause): the sweeping one finds the node silent.
    now = new Date(now.getTime() + 40_000);
    expect(await sweeping.sweep()).toEqual(['n1']);
    now = new Date(now.getTime() + 1000);
    await hearing.heartbeat('n1');
    await hearing.flush();
    expect((await store.getNode('n1'))?.presence).toBe('online');
  });
});
