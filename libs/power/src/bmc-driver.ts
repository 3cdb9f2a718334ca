// One interface for every BMC the manager drives: IPMI over LAN (ipmitool)
// and Redfish. Power and the next boot device are all reimaging needs.

export type PowerState = 'on' | 'off';

export interface BmcDriver {
  /** "ipmi" or "redfish", for logs and errors. */
  readonly kind: string;
  powerState(): Promise<PowerState>;
  powerOn(): Promise<void>;
  powerOff(): Promise<void>;
  /** Off then on; a node that is off is simply powered on. */
  powerCycle(): Promise<void>;
  /** The next boot (once) goes to the network: PXE. */
  setNextBootPxe(): Promise<void>;
}
