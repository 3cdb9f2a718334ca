// Fault injection for simulated nodes: one name per failure class the agent
// must detect (issue: Xid 79, Xid 48/64 + row-remap failure, Xid 119, thermal
// slowdown, PCIe x8 of x16, NVLink down, SMART failure, NIC down).
export const faultKinds = [
  'xid79-fallen-off-bus', 'xid48-row-remap-failure', 'xid119-gsp-timeout', 'thermal-slowdown',
  'pcie-x8', 'nvlink-down', 'smart-failure', 'nic-down',
  // Found by acceptance testing, not by health: two NVLinks of GPU 5 up at half speed (the all-reduce slows), an old
  // VBIOS on GPU 2 (a repair's spare part), GPU 3 not enumerated (no Xid: it never came up).
  'slow-nvlink', 'old-vbios', 'gpu-missing',
  // GPU 6's cooling is weak: fine at idle, 86 °C and slowed down by the driver under the acceptance stress.
  'weak-cooling',
] as const;
export type FaultKind = (typeof faultKinds)[number];

export function isFaultKind(value: string): value is FaultKind {
  return (faultKinds as readonly string[]).includes(value);
}

/**
 * A faults file maps a simulated node index (or "all") to fault names, e.g.
 * `{ "3": ["thermal-slowdown"], "all": [] }`. Unknown names are reported, not ignored.
 */
export function faultsFor(index: number, file: unknown): { faults: FaultKind[]; unknown: string[] } {
  const map = file !== null && typeof file === 'object' ? (file as Record<string, unknown>) : {};
  const names = [...(Array.isArray(map['all']) ? map['all'] : []), ...(Array.isArray(map[String(index)]) ? map[String(index)] as unknown[] : [])].map(String);
  return { faults: [...new Set(names.filter(isFaultKind))], unknown: names.filter((n) => !isFaultKind(n)) };
}
