// Work leases on every FleetStore: taken when free or expired (by the database's
// clock), a new fencing epoch each time; renewed only while live; a stale holder
// refused.
import { describe, expect, it } from 'vitest';
import { newNode, type StoreFactory } from './fleet-store.contract.ts';
import type { LeaseStore } from './lease-store.ts';

/** Waits until the database's clock says the lease is no longer live. */
async function untilExpired(store: LeaseStore, name: string): Promise<void> {
  for (;;) {
    const row = (await store.listLeases()).find((l) => l.name === name);
    if (row && !row.live) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export function describeLeaseStore(name: string, factory: StoreFactory): void {
  describe(`work leases on ${name}`, () => {
    it('gives a free lease to the first replica with epoch 1, refuses it to another while live, and renews it for its holder', async () => {
      const store = await factory.open('lease_take');
      expect(await store.claimLease('shard/1', 'a', 60_000)).toBe(1);
      expect(await store.claimLease('shard/1', 'b', 60_000)).toBeNull();
      expect(await store.renewLease('shard/1', 'a', 1, 60_000)).toBe(true);
      expect(await store.renewLease('shard/1', 'b', 1, 60_000)).toBe(false);
      expect(await store.holdsLease('shard/1', 'a', 1)).toBe(true);
      expect(await store.holdsLease('shard/1', 'b', 1)).toBe(false);
      expect(await store.listLeases()).toEqual([{ name: 'shard/1', holder: 'a', epoch: 1, live: true }]);
    });

    it('hands an expired lease to another replica with a new epoch; the old holder can neither renew nor pass the fencing check', async () => {
      const store = await factory.open('lease_expire');
      expect(await store.claimLease('singleton/alerts', 'a', 150)).toBe(1);
      await untilExpired(store, 'singleton/alerts');
      expect(await store.claimLease('singleton/alerts', 'b', 60_000)).toBe(2);
      expect(await store.renewLease('singleton/alerts', 'a', 1, 60_000)).toBe(false);
      expect(await store.holdsLease('singleton/alerts', 'a', 1)).toBe(false);
      expect(await store.holdsLease('singleton/alerts', 'b', 2)).toBe(true);
    });

    it('never renews an expired lease, even with no one else after it: it is taken again under a new epoch', async () => {
      const store = await factory.open('lease_no_revive');
      expect(await store.claimLease('shard/9', 'a', 150)).toBe(1);
      await untilExpired(store, 'shard/9');
      expect(await store.renewLease('shard/9', 'a', 1, 60_000)).toBe(false);
      expect(await store.claimLease('shard/9', 'a', 60_000)).toBe(2);
    });

    it('gives a replica restarted under the same id its live leases back at once, under a new epoch that fences the one before', async () => {
      const store = await factory.open('lease_restart');
      expect(await store.claimLease('shard/4', 'a', 60_000)).toBe(1);
      expect(await store.claimLease('shard/4', 'a', 60_000)).toBe(2);
      expect(await store.holdsLease('shard/4', 'a', 1)).toBe(false);
      expect(await store.renewLease('shard/4', 'a', 1, 60_000)).toBe(false);
      expect(await store.holdsLease('shard/4', 'a', 2)).toBe(true);
    });

    it('lets another replica take a released lease at once, and ignores a release by a stale epoch', async () => {
      const store = await factory.open('lease_release');
      expect(await store.claimLease('shard/2', 'a', 60_000)).toBe(1);
      await store.releaseLease('shard/2', 'a', 1);
      expect(await store.claimLease('shard/2', 'b', 60_000)).toBe(2);
      await store.releaseLease('shard/2', 'a', 1);
      expect(await store.holdsLease('shard/2', 'b', 2)).toBe(true);
    });

    it('takes and renews many leases in one statement each: only the free ones are taken, only the holder\'s own with its epoch renewed', async () => {
      const store = await factory.open('lease_many');
      expect(await store.claimLease('shard/7', 'b', 60_000)).toBe(1);
      const names = Array.from({ length: 600 }, (_, i) => `shard/${i}`);
      const taken = await store.claimLeases(names, 'a', 60_000);
      expect(taken.size).toBe(599);
      expect(taken.has('shard/7')).toBe(false);
      expect(taken.get('shard/0')).toBe(1);
      const renewed = await store.renewLeases([{ name: 'shard/0', epoch: 1 }, { name: 'shard/1', epoch: 9 }, { name: 'shard/7', epoch: 1 }], 'a', 60_000);
      expect([...renewed]).toEqual(['shard/0']);
    });

    it("makes a node's presence, state and command writes only while their fence holds", async () => {
      const store = await factory.open('lease_node_fence');
      const at = new Date('2026-11-28T12:00:00Z');
      await store.createNode(newNode('n1', { systemUuid: 'u-fence' }));
      await store.createCommand({ id: 'c1', nodeId: 'n1', operationId: null, kind: 'reset-gpu', args: { gpuIndex: 0 }, state: 'sent', attempts: 1, ackDeadlineAt: at, message: '', verifiedSha256: '', createdAt: at, updatedAt: at });
      const epoch = await store.claimLease('shard/7', 'a', 60_000);
      const mine = { lease: 'shard/7', holder: 'a', epoch: epoch ?? 0 };
      const stale = [{ ...mine, holder: 'b' }, { ...mine, epoch: mine.epoch + 1 }, { ...mine, lease: 'shard/8' }];
      for (const fence of stale) {
        expect(await store.setPresence('n1', 'online', at, fence)).toBe(false);
        expect(await store.transitionNode('n1', 'discovered', 'inspecting', 'inspect', { actor: 'a', reason: 'r', at }, { fence })).toBe(false);
        expect(await store.updateCommand('c1', ['sent'], { state: 'expired', message: 'given up' }, at, fence)).toBe(false);
      }
      expect(await store.getNodeSummary('n1')).toMatchObject({ presence: 'unknown', state: 'discovered' });
      expect(await store.getCommand('c1')).toMatchObject({ state: 'sent' });
      expect(await store.setPresence('n1', 'online', at, mine)).toBe(true);
      expect(await store.transitionNode('n1', 'discovered', 'inspecting', 'inspect', { actor: 'a', reason: 'r', at }, { fence: mine })).toBe(true);
      expect(await store.updateCommand('c1', ['sent'], { state: 'expired', message: 'given up' }, at, mine)).toBe(true);
      // Released: the holder's fence no longer holds.
      await store.releaseLease('shard/7', 'a', mine.epoch);
      expect(await store.setPresence('n1', 'offline', at, mine)).toBe(false);
      await store.close();
    });

    it('gives a lease claimed by many replicas at once to exactly one', async () => {
      const store = await factory.open('lease_race');
      const epochs = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((holder) => store.claimLease('shard/3', holder, 60_000)));
      expect(epochs.filter((e) => e !== null)).toEqual([1]);
    });
  });
}
