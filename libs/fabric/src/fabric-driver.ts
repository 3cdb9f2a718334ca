// One interface for every switch the manager programs. Open vSwitch over OVSDB
// is the first driver; SONiC, Cumulus NVUE and Arista eAPI drivers fit behind
// the same three calls.
import type { ActualPort } from '@metalfleet/domain';

export interface FabricDriver {
  /** The switch's name as LLDP announces it and port links refer to it. */
  readonly switchName: string;
  /** Which kind of driver: "ovsdb", later "sonic", "nvue", "eapi". */
  readonly kind: string;
  /** Every port with the access VLAN it carries now. */
  ports(): Promise<ActualPort[]>;
  /** Makes `port` an access port on `vlan`. Fails with not-found for a port the switch does not have. */
  setAccessVlan(port: string, vlan: number): Promise<void>;
  close(): Promise<void>;
}
