// What a node is made of, as reported by its agent. Plain data, no proto types.

export interface Inventory {
  system: SystemInfo;
  cpus: Cpu[];
  memory: Memory;
  disks: Disk[];
  nics: Nic[];
  gpus: Gpu[];
  os: OperatingSystem;
  /** Collectors that failed; the rest of the inventory is still valid. */
  failures: CollectorFailure[];
  collectedAt: Date | null;
}

export interface SystemInfo {
  vendor: string;
  model: string;
  biosVendor: string;
  biosVersion: string;
  bmcFirmwareVersion: string;
  virtual: boolean;
  hostname: string;
}

export interface Cpu { vendor: string; model: string; cores: number; threads: number; baseGhz: number }
export interface Memory { totalBytes: number; dimms: Dimm[] }
export interface Dimm {
  locator: string; sizeBytes: number; type: string; speedMts: number; serial: string;
  /** Error correction as the firmware reports it; null: not read. */
  ecc: boolean | null;
}
export interface Disk { name: string; model: string; serial: string; sizeBytes: number; nvme: boolean; firmware: string }
export interface Nic {
  name: string; mac: string; speedMbps: number; linkUp: boolean; driver: string; firmware: string; physical: boolean;
  /** The switch port this NIC is cabled to (LLDP), or null when none was heard. */
  neighbor: LldpNeighbor | null;
}
export interface LldpNeighbor { switchName: string; switchId: string; portId: string; portDescription: string }
export interface Gpu {
  index: number; model: string; uuid: string; serial: string; vbiosVersion: string;
  driverVersion: string; cudaVersion: string; pciBusId: string; memoryBytes: number;
  pcieMaxGen: number; pcieMaxWidth: number;
  /** The generation the GPU and its slot allow together, and the width the link trained at (0: not read). */
  pcieLinkMaxGen: number; pcieCurrentWidth: number; migMode: string; powerLimitW: number; defaultPowerLimitW: number;
  /** ECC mode now: "Enabled", "Disabled", or "" when not read. */
  eccMode: string;
}
export interface OperatingSystem { distro: string; release: string; kernel: string; arch: string; machineId: string }
export interface CollectorFailure { collector: string; message: string }

export function emptyInventory(): Inventory {
  return {
    system: { vendor: '', model: '', biosVendor: '', biosVersion: '', bmcFirmwareVersion: '', virtual: false, hostname: '' },
    cpus: [],
    memory: { totalBytes: 0, dimms: [] },
    disks: [],
    nics: [],
    gpus: [],
    os: { distro: '', release: '', kernel: '', arch: '', machineId: '' },
    failures: [],
    collectedAt: null,
  };
}
