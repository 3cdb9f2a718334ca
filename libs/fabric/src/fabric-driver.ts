// One interface for every switch the manager programs. Open vSwitch over OVSDB
// is the first driver; SONiC, Cumulus NVUE and Arista eAPI drivers fit behind
// the same three calls.
import type { ActualPort, SeenOnPort } from '@metalfleet/domain';

export interface FabricDriver {
  /** The switch's name as LLDP announces it and port links refer to it. */
  readonly switchName: string;
  /** Which kind of driver: "ovsdb", later "sonic", "nvue", "eapi". */
  readonly kind: string;
  /** Every port with the access VLAN it carries now. */
  ports(): Promise<ActualPort[]>;
  /** Makes `port` an access port on `vlan`. Fails with not-found for a port the switch does not have. */
  setAccessVlan(port: string, vlan: number): Promise<void>;
  /**
   * What the switch itself saw on its ports (its MAC table, LLDP neighbours it
   * heard): cabling a tenant's OS cannot put on another port. Optional: a
   * driver whose protocol cannot read it leaves it out. OVSDB cannot: Open
   * vSwitch (3.1, schema 8.3) keeps its FDB (`ovs-appctl fdb/show`) and the
   * LLDP neighbours (`ovs-appctl lldp/neighbor`) behind the switch's local
   * control socket; the Interface table's `lldp` column only enables LLDP.
   */
  seenOnPorts?(): Promise<SeenOnPort[]>;
  close(): Promise<void>;
}
