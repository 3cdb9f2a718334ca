// Records the LLDP neighbours in an inventory as claims on switch ports, with
// the source its path gives them: only an inventory sent while the node runs
// the manager's own image (a registration with a manager-issued token) is
// trusted to map a port; the tenant's OS only ever holds the node credential.
import { learnedLinks, lldpSource, type Inventory, type LldpReport } from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';

/** `ownMacs`: the MACs of the node's registered identity; a NIC with any other MAC claims nothing. */
export async function recordReportedCabling(store: FleetStore, nodeId: string, inventory: Inventory, ownMacs: readonly string[], report: LldpReport, at: Date): Promise<void> {
  await store.recordLearnedLinks(nodeId, lldpSource(report), learnedLinks(nodeId, inventory.nics, ownMacs), at);
}
