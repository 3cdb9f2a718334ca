// The spare pool as pickSpare (libs/domain) sees it: available nodes with the
// hardware facts profile matching needs, whether each was admitted, and when
// its acceptance last passed (required where acceptance is on).
import type { SpareCandidate } from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';

export async function spareCandidates(store: FleetStore, acceptanceRequired = false): Promise<SpareCandidate[]> {
  const available = (await store.listNodes()).filter((n) => n.state === 'available');
  const pending = new Set((await store.listAdmissions({ state: 'pending' })).map((a) => a.nodeId));
  const candidates: SpareCandidate[] = [];
  for (const node of available) {
    const full = await store.getNode(node.id);
    const [latest] = await store.acceptanceRuns(node.id, 1);
    const acceptedAt = latest?.passed ? latest.at : null;
    candidates.push({
      acceptedAt, accepted: !acceptanceRequired || acceptedAt !== null,
      id: node.id, rack: node.rack, state: node.state, presence: node.presence, severity: node.health.severity, admitted: !pending.has(node.id),
      gpuModel: node.gpuModel, gpuCount: node.gpuCount, memoryBytes: full?.inventory.memory.totalBytes ?? 0,
    });
  }
  return candidates;
}
