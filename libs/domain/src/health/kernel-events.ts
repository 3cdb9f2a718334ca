// What the kernel log says about GPUs and NVSwitches, parsed (libs/hardware)
// and then classified here.

export type KernelEvent =
  | { kind: 'xid'; pci: string; xid: number; text: string; rootXid: number | null }
  | { kind: 'sxid'; pci: string; sxid: number; fatal: boolean | null; text: string }
  | { kind: 'fallen-off-bus'; pci: string; text: string }
  | { kind: 'pcie-limited'; pci: string; text: string }
  | { kind: 'gpu-identity'; pci: string; uuid: string };

/** An event with the wall-clock time the agent saw it. */
export interface SeenKernelEvent {
  event: KernelEvent;
  seenAt: Date;
}
