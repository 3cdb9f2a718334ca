// Cabling from the switch's own view: the MACs it saw on each port (its FDB,
// or the chassis MAC of an LLDP neighbour it heard). The port is real — the
// switch saw the frame there — but the MAC in the frame is the sender's word,
// so these links go through the same rules as every other claim: the earliest
// trusted claim keeps a port, and a NIC already mapped takes no second port.
import type { PlannedLink } from './cabling.ts';

export interface SeenOnPort {
  switchName: string;
  port: string;
  mac: string;
}

/** The links each known node has by what the switches saw; MACs no node owns are left out. */
export function linksSeenBySwitches(seen: readonly SeenOnPort[], ownerOfMac: ReadonlyMap<string, string>): Map<string, PlannedLink[]> {
  const byNode = new Map<string, PlannedLink[]>();
  const taken = new Set<string>();
  for (const s of seen) {
    const mac = s.mac.toLowerCase();
    const nodeId = ownerOfMac.get(mac);
    const key = `${s.switchName}\u0000${s.port}\u0000${mac}`;
    if (!nodeId || taken.has(key)) continue;
    taken.add(key);
    byNode.set(nodeId, [...(byNode.get(nodeId) ?? []), { nodeId, mac, switchName: s.switchName, port: s.port }]);
  }
  return byNode;
}

/** Whether two sets of one node's links differ (order aside): only a change is written. */
export function linksDiffer(a: readonly PlannedLink[], b: readonly PlannedLink[]): boolean {
  const keys = (links: readonly PlannedLink[]) => links.map((l) => `${l.switchName}\u0000${l.port}\u0000${l.mac.toLowerCase()}`).sort().join('\n');
  return keys(a) !== keys(b);
}
