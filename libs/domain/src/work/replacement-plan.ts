// Choosing the spare for a failed node: an available, online, healthy,
// admitted node whose hardware matches the profile, preferring the failed node's rack
// (same switch, same power and cooling domain), then the lowest id (stable).
import { matchesProfile, type HardwareProfile, type NodeHardware } from './catalog.ts';
import type { NodeState, Presence } from '../node.ts';
import type { Severity } from '../health/health-condition.ts';

export interface SpareCandidate extends NodeHardware {
  id: string;
  rack: string;
  state: NodeState;
  presence: Presence;
  severity: Severity;
  /** False for a machine discovered through the boot endpoint that no operator (or BMC enrollment) admitted yet: its claims are its own word. */
  admitted: boolean;
  /** When its latest acceptance run passed; null when it has none, or the latest failed. */
  acceptedAt: Date | null;
  /** Whether it may serve as far as acceptance goes: it passed, or acceptance is off (--acceptance). */
  accepted: boolean;
}

export type SparePick = { ok: true; spareId: string; sameRack: boolean } | { ok: false; reason: string };

export function pickSpare(failed: { id: string; rack: string }, profile: HardwareProfile, candidates: readonly SpareCandidate[], exclude: ReadonlySet<string> = new Set()): SparePick {
  const usable = candidates.filter((c) => c.id !== failed.id && !exclude.has(c.id) && c.state === 'available' && c.presence === 'online' && c.severity === 'ok' && c.admitted && c.accepted);
  const matching = usable.filter((c) => matchesProfile(c, profile));
  if (matching.length === 0) {
    const want = `${profile.gpuCount}x ${profile.gpuModel || 'any GPU'}, ≥ ${Math.round(profile.minMemoryBytes / 1024 ** 3)} GiB`;
    return { ok: false, reason: `no available, online, healthy (no warning), admitted, accepted node matches ${want} (${usable.length} available, none matching)` };
  }
  // The same rack first (the tenant's network and power domain), then the most recently accepted (its proof is freshest).
  const acceptedMs = (c: SpareCandidate) => c.acceptedAt?.getTime() ?? 0;
  const [best] = [...matching].sort((a, b) => Number(b.rack === failed.rack) - Number(a.rack === failed.rack) || acceptedMs(b) - acceptedMs(a) || a.id.localeCompare(b.id));
  if (!best) return { ok: false, reason: 'no candidate' };
  return { ok: true, spareId: best.id, sameRack: best.rack === failed.rack };
}
