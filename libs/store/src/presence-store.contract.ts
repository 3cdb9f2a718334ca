// Presence from the agents' status messages on every FleetStore: a last will of
// a session the agent has since replaced, stored after the new session's
// "online" (two replicas each storing one of them), marks nothing offline.
import { describe, expect, it } from 'vitest';
import { newNode, type StoreFactory } from './fleet-store.contract.ts';

export function describePresenceStore(name: string, factory: StoreFactory): void {
  describe(`presence by agent session on ${name}`, () => {
    it('takes offline only from the session that is online, or from no session (the offline sweep)', async () => {
      const store = await factory.open('presence_session');
      const at = (s: number) => new Date(Date.UTC(2026, 10, 29, 10, 0, s));
      await store.createNode(newNode('n1', { systemUuid: 'u-1' }));
      const presence = async () => (await store.getNodeSummary('n1'))?.presence;
      // A registered node is online; its agent says so in session a, then (restarted) in session b, and session a's
      // last will is stored after that.
      await store.setPresence('n1', 'online', at(1), undefined, { session: 'session-a', connection: 0 });
      await store.setPresence('n1', 'online', at(2), undefined, { session: 'session-b', connection: 0 });
      expect(await store.setPresence('n1', 'offline', at(3), undefined, { session: 'session-a', connection: 0 })).toBe(false);
      expect(await presence()).toBe('online');
      // Its own session's offline, and the sweep's (no session), do.
      expect(await store.setPresence('n1', 'offline', at(4), undefined, { session: 'session-b', connection: 0 })).toBe(true);
      expect(await store.setPresence('n1', 'online', at(5), undefined, { session: 'session-b', connection: 0 })).toBe(true);
      expect(await store.setPresence('n1', 'offline', at(6))).toBe(true);
      expect(await presence()).toBe('offline');
      await store.close();
    });

    it('goes by connection within a session: an earlier connection\'s will or "online" delivered late changes nothing', async () => {
      const store = await factory.open('presence_connection');
      const at = (s: number) => new Date(Date.UTC(2026, 10, 29, 11, 0, s));
      await store.createNode(newNode('n1', { systemUuid: 'u-1' }));
      const presence = async () => (await store.getNodeSummary('n1'))?.presence;
      const a = (connection: number) => ({ session: 'session-a', connection });
      await store.setPresence('n1', 'online', at(1), undefined, a(9));
      await store.setPresence('n1', 'online', at(2), undefined, a(10));
      // Connection 9's will, then its "online" again (redelivered), after connection 10 came online.
      expect(await store.setPresence('n1', 'offline', at(3), undefined, a(9))).toBe(false);
      await store.setPresence('n1', 'online', at(4), undefined, a(9));
      expect(await store.setPresence('n1', 'offline', at(5), undefined, a(9))).toBe(false);
      expect(await presence()).toBe('online');
      // Connection 10's will is the agent gone.
      expect(await store.setPresence('n1', 'offline', at(6), undefined, a(10))).toBe(true);
      // A session id with NUL in it (a tenant's own agent sent it) is stored without.
      await store.setPresence('n1', 'online', at(7), undefined, { session: 'sess\0ion', connection: 0 });
      expect(await store.setPresence('n1', 'offline', at(8), undefined, { session: 'sess\0ion', connection: 0 })).toBe(true);
      await store.close();
    });
  });
}
