import { describe, expect, it } from 'vitest';
import { emptyInventory, type ActualPort, type SeenOnPort } from '@metalfleet/domain';
import type { FabricDriver } from '@metalfleet/fabric';
import { openSqliteFleetStore } from '@metalfleet/store';
import { createFabricReconciler } from './fabric-reconciler.ts';
import { FleetEvents, type FleetEvent } from '../events/fleet-events.ts';

/** A switch whose driver can say what it saw on its ports (OVSDB cannot; see FabricDriver.seenOnPorts). */
function fakeSwitch(seen: SeenOnPort[]): FabricDriver & { vlans: Map<string, number | null> } {
  const vlans = new Map<string, number | null>([['p1', null], ['p2', null]]);
  return {
    switchName: 'leaf-1', kind: 'fake', vlans,
    ports: async (): Promise<ActualPort[]> => [...vlans].map(([port, vlan]) => ({ switchName: 'leaf-1', port, vlan })),
    setAccessVlan: async (port, vlan) => void vlans.set(port, vlan),
    seenOnPorts: async () => seen,
    close: async () => undefined,
  };
}

describe("the fabric reconciler and the switch's own view", () => {
  it('maps a port by the MAC the switch saw there, and a MAC spoofed on a second port maps nothing', async () => {
    const store = openSqliteFleetStore({ path: ':memory:' });
    const at = new Date('2026-11-01T00:00:00Z');
    for (const [id, mac] of [['a', 'aa:00:00:00:00:01'], ['b', 'bb:00:00:00:00:01']] as const) {
      const identity = { systemUuid: `u-${id}`, systemSerial: '', chassisSerial: '', boardSerial: '', macs: [mac], bmcAddress: '' };
      await store.createNode({ id, hostname: id, identity, inventory: emptyInventory(), agentVersion: 't', credentialHash: 'h', at });
    }
    const seen: SeenOnPort[] = [{ switchName: 'leaf-1', port: 'p1', mac: 'AA:00:00:00:00:01' }];
    const driver = fakeSwitch(seen);
    const events = new FleetEvents();
    const emitted: FleetEvent[] = [];
    events.on((e) => void emitted.push(e));
    const reconciler = createFabricReconciler({ store, events, drivers: [driver], provisioningVlan: 10, now: () => at });

    await reconciler.reconcile();
    expect((await store.portLinks()).learned.map((l) => [l.nodeId, l.port, l.source, l.trusted])).toEqual([['a', 'p1', 'switch', true]]);
    expect(driver.vlans.get('p1')).toBe(10);

    // Node b's tenant sends frames with a's MAC from port p2: the switch sees a's MAC there too.
    seen.push({ switchName: 'leaf-1', port: 'p2', mac: 'aa:00:00:00:00:01' });
    await reconciler.reconcile();
    expect(driver.vlans.get('p2')).toBe(null);
    expect(reconciler.view().cabling.map((w) => [w.kind, w.heard.port])).toEqual([['nic-elsewhere', 'p2']]);
    expect(emitted.filter((e) => e.type === 'cabling-warning')).toHaveLength(1);
    await store.close();
  });
});
