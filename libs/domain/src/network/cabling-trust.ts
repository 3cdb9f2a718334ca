// Where a learned link came from, and whether it may put a port on a node's
// network. On bare metal the tenant is root on its node: it can send any
// inventory with its node credential, so LLDP reported from the tenant's OS is
// a claim, never cabling. What the tenant cannot forge is trusted: the switch's
// own view, and LLDP heard while the node runs the manager's image (discovery
// or install), which registers with a manager-issued bootstrap token — the
// tenant's OS only ever holds the node credential.

/**
 * lldp-legacy: learned before the manager told sources apart; kept as trusted,
 * since those ports were already mapped and a port never moves without an operator.
 */
export const linkSources = ['lldp-manager-image', 'lldp-node-os', 'switch', 'lldp-legacy'] as const;
export type LinkSource = (typeof linkSources)[number];

/** How an inventory with LLDP neighbours reached the manager. */
export type LldpReport = 'register-with-bootstrap-token' | 'register-with-node-credential' | 'inventory-update';

export function lldpSource(report: LldpReport): LinkSource {
  switch (report) {
    case 'register-with-bootstrap-token':
      return 'lldp-manager-image';
    case 'register-with-node-credential':
    case 'inventory-update':
      return 'lldp-node-os';
  }
}

/** Whether a link from this source may map a port to a node (the plan always may). */
export function trustedSource(source: LinkSource): boolean {
  return source !== 'lldp-node-os';
}

/**
 * Which of a node's earlier claims from `source` a new report replaces: those
 * it no longer mentions, when the source is untrusted (the tenant's OS says
 * what it likes, and only its latest word is kept). A trusted claim maps a
 * port, and a port already mapped never moves without an operator, so a later
 * report that simply leaves it out (a registration without LLDP) removes
 * nothing: it goes when an operator removes it or the node is deleted.
 */
export function claimsReplacedByReport<T extends { switchName: string; port: string }>(
  source: LinkSource, earlier: readonly T[], heard: ReadonlyArray<{ switchName: string; port: string }>,
): T[] {
  if (trustedSource(source)) return [];
  const key = (l: { switchName: string; port: string }) => `${l.switchName}\u0000${l.port}`;
  const now = new Set(heard.map(key));
  return earlier.filter((l) => !now.has(key(l)));
}
