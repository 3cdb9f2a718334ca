// The node-NIC ↔ switch-port map. A link is set by hand (the cabling plan) or
// learned: from LLDP the node reported, or from the switch's own view. Only
// the plan and trusted learned links (cabling-trust.ts) map a port; the plan
// wins; a port mapped to a node stays with it until an operator plans it
// otherwise, however many later claims say otherwise. Every disagreement is a
// warning for the operator and changes nothing, since programming the wrong
// port would put a node on someone else's network.
import type { Nic } from '../inventory.ts';
import { parseMac } from '../node-identity.ts';
import type { LinkSource } from './cabling-trust.ts';
import type { PortLink } from './port-plan.ts';

export interface PlannedLink extends PortLink {
  /** The NIC on the node side, by MAC. */
  mac: string;
}

export interface LearnedLink extends PlannedLink {
  source: LinkSource;
  /** Whether the source may map a port (decided by trustedSource when the link was recorded). */
  trusted: boolean;
  /** When this node was first heard on this port from this source: the earliest trusted claim keeps a port. */
  since: Date;
}

export interface PortRef { switchName: string; port: string }

export interface CablingWarning {
  /**
   * off-plan: the plan puts this NIC elsewhere; nic-elsewhere: an earlier
   * trusted claim already put this NIC on another port; port-conflict: the
   * port is already another node's.
   */
  kind: 'off-plan' | 'nic-elsewhere' | 'port-conflict';
  nodeId: string;
  mac: string;
  source: LinkSource;
  heard: PortRef;
  /** off-plan: where the plan puts the NIC. */
  planned: PortRef | null;
  /** port-conflict: who holds the port, and why. */
  holder: { nodeId: string; mac: string; by: 'plan' | 'earlier-trusted-claim' } | null;
  message: string;
}

/**
 * The links LLDP reveals for one node's NICs (one NIC per port: the first heard wins). Only NICs with a real MAC
 * count, and only the machine's own (`ownMacs`, the MACs of its registered identity): an inventory that lists
 * made-up NICs claims no port with them.
 */
export function learnedLinks(nodeId: string, nics: readonly Nic[], ownMacs: readonly string[]): PlannedLink[] {
  const own = new Set(ownMacs.map(parseMac).filter((m) => m !== null));
  const seen = new Set<string>();
  return nics.flatMap((nic) => {
    const mac = parseMac(nic.mac);
    if (mac === null || !own.has(mac) || !nic.neighbor?.switchName || !nic.neighbor.portId) return [];
    const link = { nodeId, mac, switchName: nic.neighbor.switchName, port: nic.neighbor.portId };
    if (seen.has(portKey(link))) return [];
    seen.add(portKey(link));
    return [link];
  });
}

const portKey = (l: PortRef) => `${l.switchName}\u0000${l.port}`;
const where = (l: PortRef) => `${l.switchName}/${l.port}`;
const sourceText: Record<LinkSource, string> = {
  'lldp-manager-image': "LLDP from the manager's image",
  'lldp-node-os': "LLDP from the node's own OS (not trusted)",
  switch: 'the switch',
  'lldp-legacy': 'LLDP learned before cabling trust',
};

/** Trusted claims first, oldest first: the earliest trusted claim keeps a port; untrusted ones only ever warn. */
function byPrecedence(a: LearnedLink, b: LearnedLink): number {
  if (a.trusted !== b.trusted) return a.trusted ? -1 : 1;
  return a.since.getTime() - b.since.getTime() || a.nodeId.localeCompare(b.nodeId) || a.mac.localeCompare(b.mac);
}

/** The map the fabric is programmed from: planned links, then trusted learned ones for ports nobody holds yet. */
export function effectiveLinks(planned: readonly PlannedLink[], learned: readonly LearnedLink[]): {
  links: PlannedLink[];
  warnings: CablingWarning[];
} {
  const plannedByMac = new Map(planned.map((l) => [l.mac.toLowerCase(), l]));
  const holders = new Map<string, { link: PlannedLink; by: 'plan' | 'earlier-trusted-claim' }>(planned.map((l) => [portKey(l), { link: l, by: 'plan' }]));
  const links: PlannedLink[] = [...planned];
  /** Where learned links put each NIC: a NIC heard on a second port (a MAC spoofed elsewhere) takes no second one. */
  const learnedByNic = new Map<string, PlannedLink>();
  const nicKey = (l: { nodeId: string; mac: string }) => `${l.nodeId}\u0000${l.mac}`;
  const warnings: CablingWarning[] = [];
  for (const heard of [...learned].sort(byPrecedence)) {
    const base = { nodeId: heard.nodeId, mac: heard.mac, source: heard.source, heard: { switchName: heard.switchName, port: heard.port } };
    const plan = plannedByMac.get(heard.mac);
    if (plan) {
      if (portKey(plan) !== portKey(heard)) {
        warnings.push({
          ...base, kind: 'off-plan', planned: { switchName: plan.switchName, port: plan.port }, holder: null,
          message: `NIC ${heard.mac} of node ${heard.nodeId} is planned on ${where(plan)} but ${sourceText[heard.source]} hears it on ${where(heard)}`,
        });
      }
      continue;
    }
    const holder = holders.get(portKey(heard));
    if (holder) {
      if (holder.link.nodeId === heard.nodeId) continue;
      const why = holder.by === 'plan' ? 'the plan gives it to' : 'it already belongs to';
      warnings.push({
        ...base, kind: 'port-conflict', planned: null, holder: { nodeId: holder.link.nodeId, mac: holder.link.mac, by: holder.by },
        message: `node ${heard.nodeId} claims ${where(heard)} for NIC ${heard.mac} by ${sourceText[heard.source]}, but ${why} NIC ${holder.link.mac} of node ${holder.link.nodeId}: the port stays, an operator decides`,
      });
      continue;
    }
    const elsewhere = learnedByNic.get(nicKey(heard));
    if (elsewhere) {
      warnings.push({
        ...base, kind: 'nic-elsewhere', planned: { switchName: elsewhere.switchName, port: elsewhere.port }, holder: null,
        message: `NIC ${heard.mac} of node ${heard.nodeId} is on ${where(elsewhere)} but ${sourceText[heard.source]} hears it on ${where(heard)}: it stays, an operator decides`,
      });
      continue;
    }
    if (!heard.trusted) continue; // a claim nobody can check maps nothing
    const link = { nodeId: heard.nodeId, mac: heard.mac, switchName: heard.switchName, port: heard.port };
    holders.set(portKey(heard), { link, by: 'earlier-trusted-claim' });
    learnedByNic.set(nicKey(heard), link);
    links.push(link);
  }
  return { links, warnings };
}
