// The event journal on every FleetStore: appended in order, read after a
// sequence number, purged by age, and readers woken when something is appended.
import { describe, expect, it } from 'vitest';
import { queuedProgress } from '@metalfleet/domain';
import { newNode, type StoreFactory } from './fleet-store.contract.ts';

const entry = (n: number, at = new Date(Date.UTC(2026, 10, 28, 2, 0, n))) => ({ at, type: `t${n}`, body: JSON.stringify({ n }) });

export function describeEventJournalStore(name: string, factory: StoreFactory): void {
  describe(`event journal on ${name}`, () => {
    it('numbers entries in the order they were appended and reads them after any sequence number, a page at a time', async () => {
      const store = await factory.open('journal_order');
      expect(await store.lastEventSeq()).toBe(0);
      await store.appendEvents([entry(1), entry(2)]);
      await store.appendEvents([entry(3)]);
      const all = await store.eventsAfter(0, 10);
      expect(all.map((e) => e.type)).toEqual(['t1', 't2', 't3']);
      expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((a, b) => a - b));
      expect(all[0]).toMatchObject({ at: entry(1).at, body: '{"n":1}' });
      expect(await store.lastEventSeq()).toBe(all[2]?.seq);
      expect((await store.eventsAfter(all[0]?.seq ?? 0, 1)).map((e) => e.type)).toEqual(['t2']);
      expect(await store.eventsAfter(all[2]?.seq ?? 0, 10)).toEqual([]);
    });

    it('appends more entries than one statement can hold', async () => {
      const store = await factory.open('journal_many');
      await store.appendEvents(Array.from({ length: 2500 }, (_, i) => entry(i % 60)));
      const first = await store.eventsAfter(0, 3000);
      expect(first).toHaveLength(2500);
      expect(first[2499]?.type).toBe(`t${2499 % 60}`);
    });

    it('purges entries older than a time and never gives a purged sequence number again', async () => {
      const store = await factory.open('journal_purge');
      await store.appendEvents([entry(1), entry(2), entry(3)]);
      const last = await store.lastEventSeq();
      expect(await store.purgeEventsBefore(entry(3).at)).toBe(2);
      await store.appendEvents([entry(4)]);
      const left = await store.eventsAfter(0, 10);
      expect(left.map((e) => e.type)).toEqual(['t3', 't4']);
      expect(left[1]?.seq).toBeGreaterThan(last);
    });

    it("writes a change's events in the change's own transaction, and none for a change not made", async () => {
      const store = await factory.open('journal_with_change');
      const at = entry(0).at;
      const tenant = { id: 't1', name: 'acme', vlan: 101, vni: 10101, createdAt: at };
      await store.createTenant(tenant, [entry(1)]);
      await expect(store.createTenant({ ...tenant, id: 't2' }, [entry(90)])).rejects.toMatchObject({ code: 'conflict' });
      expect(await store.deleteTenant('nobody', [entry(91)])).toBe(false);
      await store.createNode(newNode('n1', { systemUuid: 'u-journal' }));
      expect(await store.setNodeTenant('n1', 't1', [entry(2)])).toBe(true);
      expect(await store.setNodeTenant('nobody', 't1', [entry(92)])).toBe(false);
      expect(await store.transitionNode('n1', 'discovered', 'inspecting', 'inspect', { actor: 'a', reason: 'r', at }, { events: [entry(3)] })).toBe(true);
      expect(await store.transitionNode('n1', 'discovered', 'inspecting', 'inspect', { actor: 'a', reason: 'r', at }, { events: [entry(93)] })).toBe(false);
      expect(await store.takeNodeFromTenant('n1', 't1', [entry(4)])).toBe(true);
      expect(await store.takeNodeFromTenant('n1', 't1', [entry(94)])).toBe(false);
      const operation = { id: 'op1', kind: 'reimage', state: 'running', image: { name: 'i', version: '1' }, priority: 0, urgent: false, actor: 'a', reason: 'r', createdAt: at, updatedAt: at } as const;
      const entries = (operationId: string) => [{ operationId, nodeId: 'n1', position: 0, rack: '', tenant: null, progress: queuedProgress(), commandId: null, updatedAt: at }];
      await store.createOperation(operation, entries('op1'), [entry(5)]);
      await expect(store.createOperation({ ...operation, id: 'op2' }, entries('op2'), [entry(95)])).rejects.toMatchObject({ code: 'conflict' });
      expect(await store.deleteTenant('t1', [entry(6)])).toBe(true);
      expect((await store.eventsAfter(0, 20)).map((e) => e.type)).toEqual(['t1', 't2', 't3', 't4', 't5', 't6']);
    });

    it('wakes a watcher after a change appended its events', async () => {
      const store = await factory.open('journal_change_wake');
      let wakes = 0;
      const stop = store.watchEvents(() => (wakes += 1));
      await expect.poll(async () => {
        const before = wakes;
        await store.createTenant({ id: `t${before}`, name: `acme-${before}`, vlan: 100 + before, vni: 10_000 + before, createdAt: entry(0).at }, [entry(1)]);
        await expect.poll(() => wakes, { timeout: 2000 }).toBeGreaterThan(before);
        return true;
      }, { timeout: 10_000 }).toBe(true);
      stop();
    });

    it('wakes a watcher after an append, and no more once it stops watching', async () => {
      const store = await factory.open('journal_wake');
      let wakes = 0;
      const stop = store.watchEvents(() => (wakes += 1));
      // PostgreSQL: the LISTEN connection wakes the watcher once it is up; then the append's NOTIFY.
      await expect.poll(async () => {
        const before = wakes;
        await store.appendEvents([entry(1)]);
        await expect.poll(() => wakes, { timeout: 2000 }).toBeGreaterThan(before);
        return true;
      }, { timeout: 10_000 }).toBe(true);
      stop();
      const after = wakes;
      await store.appendEvents([entry(2)]);
      await store.eventsAfter(0, 10);
      expect(wakes).toBe(after);
    });
  });
}
