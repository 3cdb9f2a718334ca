// What the kernel log says about GPUs and NVSwitches, parsed (libs/hardware)
// and then classified here.

/** `line`: the kernel log line it was read from, as the vendor asks for it (absent where none was kept). */
export type KernelEvent =
  | { kind: 'xid'; pci: string; xid: number; text: string; rootXid: number | null; line?: string }
  | { kind: 'sxid'; pci: string; sxid: number; fatal: boolean | null; text: string; line?: string }
  | { kind: 'fallen-off-bus'; pci: string; text: string; line?: string }
  | { kind: 'pcie-limited'; pci: string; text: string; line?: string }
  | { kind: 'gpu-identity'; pci: string; uuid: string };

/** An event with the wall-clock time the agent saw it. */
export interface SeenKernelEvent {
  event: KernelEvent;
  seenAt: Date;
}
