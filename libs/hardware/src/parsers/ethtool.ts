// `ethtool -i <nic>` (driver, firmware) and `ethtool <nic>` (supported speeds).

export function parseEthtoolInfo(text: string): { driver: string; firmware: string } {
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  return { driver: field('driver'), firmware: field('firmware-version') };
}

/** Fastest supported link mode in Mb/s, e.g. `100000baseCR4/Full` → 100000. */
export function parseEthtoolMaxSpeed(text: string): number | null {
  const block = /Supported link modes:([\s\S]*?)(?:\n\s*[A-Z][\w -]*:|$)/.exec(text)?.[1] ?? '';
  const speeds = [...block.matchAll(/(\d+)base/g)].map((m) => Number(m[1]));
  return speeds.length > 0 ? Math.max(...speeds) : null;
}
