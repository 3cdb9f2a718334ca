// Clock event ("throttle") reasons, named as nvidia-smi names them in XML and
// CSV (GPU-HEALTH.md §4). One list: both parsers map their input onto these
// names and the GPU classifier reads them.

/** Bits of `clocks_event_reasons.active` (`clocks_throttle_reasons.active` before 535) and the reason each stands for. */
export const clockEventReasons = [
  { name: 'gpu_idle', bit: 0x1 },
  { name: 'applications_clocks_setting', bit: 0x2 },
  { name: 'sw_power_cap', bit: 0x4 },
  { name: 'hw_slowdown', bit: 0x8 }, // umbrella of hw_thermal_slowdown and hw_power_brake_slowdown
  { name: 'sync_boost', bit: 0x10 },
  { name: 'sw_thermal_slowdown', bit: 0x20 },
  { name: 'hw_thermal_slowdown', bit: 0x40 },
  { name: 'hw_power_brake_slowdown', bit: 0x80 },
  { name: 'display_clocks_setting', bit: 0x100 },
] as const;

export type ClockEventReason = (typeof clockEventReasons)[number]['name'];

/** The reasons set in an `active` mask, in bit order. */
export function clockEventsFromMask(mask: number): ClockEventReason[] {
  return clockEventReasons.filter(({ bit }) => (mask & bit) !== 0).map(({ name }) => name);
}

/**
 * The XML counters use shortened names (`hw_therm_slowdown`, `hw_power_brake`);
 * the CSV fields and the reasons use the full ones. Unknown names pass through.
 */
export function clockEventReasonName(name: string): string {
  return counterAliases[name] ?? name;
}

const counterAliases: Readonly<Record<string, ClockEventReason>> = {
  sw_therm_slowdown: 'sw_thermal_slowdown',
  hw_therm_slowdown: 'hw_thermal_slowdown',
  hw_power_brake: 'hw_power_brake_slowdown',
};
