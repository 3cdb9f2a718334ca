// The node-NIC ↔ switch-port map. A link is set by hand (the cabling plan) or
// learned from the LLDP neighbour the agent heard on a NIC. A planned link
// wins; where LLDP disagrees with the plan, the operator gets a warning, since
// programming the wrong port would put a node on someone else's network.
import type { Nic } from '../inventory.ts';
import type { PortLink } from './port-plan.ts';

export interface PlannedLink extends PortLink {
  /** The NIC on the node side, by MAC. */
  mac: string;
}

export interface LearnedLink extends PlannedLink {
  source: 'lldp';
}

export interface CablingWarning {
  nodeId: string;
  mac: string;
  planned: { switchName: string; port: string };
  heard: { switchName: string; port: string };
  message: string;
}

/** The links LLDP reveals for one node's NICs. */
export function learnedLinks(nodeId: string, nics: readonly Nic[]): LearnedLink[] {
  return nics.flatMap((nic) =>
    nic.neighbor && nic.neighbor.switchName && nic.neighbor.portId
      ? [{ nodeId, mac: nic.mac.toLowerCase(), switchName: nic.neighbor.switchName, port: nic.neighbor.portId, source: 'lldp' as const }]
      : []);
}

/** The map the fabric is programmed from: planned links, then learned ones for ports no plan claims. */
export function effectiveLinks(planned: readonly PlannedLink[], learned: readonly LearnedLink[]): {
  links: PlannedLink[];
  warnings: CablingWarning[];
} {
  const portKey = (l: { switchName: string; port: string }) => `${l.switchName}\u0000${l.port}`;
  const plannedByMac = new Map(planned.map((l) => [l.mac.toLowerCase(), l]));
  const claimed = new Set(planned.map(portKey));
  const links: PlannedLink[] = [...planned];
  const warnings: CablingWarning[] = [];
  for (const heard of learned) {
    const plan = plannedByMac.get(heard.mac);
    if (plan) {
      if (portKey(plan) !== portKey(heard)) {
        warnings.push({
          nodeId: heard.nodeId, mac: heard.mac, planned: { switchName: plan.switchName, port: plan.port }, heard: { switchName: heard.switchName, port: heard.port },
          message: `NIC ${heard.mac} of node ${heard.nodeId} is planned on ${plan.switchName}/${plan.port} but LLDP hears ${heard.switchName}/${heard.port}`,
        });
      }
      continue;
    }
    const owner = planned.find((l) => portKey(l) === portKey(heard));
    if (owner) {
      // The plan gives this port to another NIC: the plan wins, and the operator hears of it.
      warnings.push({
        nodeId: heard.nodeId, mac: heard.mac, planned: { switchName: owner.switchName, port: owner.port }, heard: { switchName: heard.switchName, port: heard.port },
        message: `LLDP hears NIC ${heard.mac} of node ${heard.nodeId} on ${heard.switchName}/${heard.port}, which the plan gives to NIC ${owner.mac} of node ${owner.nodeId}`,
      });
      continue;
    }
    if (claimed.has(portKey(heard))) continue; // two NICs heard on one port: the first one keeps it
    claimed.add(portKey(heard));
    links.push({ nodeId: heard.nodeId, mac: heard.mac, switchName: heard.switchName, port: heard.port });
  }
  return { links, warnings };
}
