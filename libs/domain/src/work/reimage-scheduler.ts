// Which queued reimages may start now: highest priority first, then urgent
// work, then first come; never more nodes down at once than the global, the
// per-rack and the per-tenant limits allow; planned work only inside a
// maintenance window (urgent work — replacements — at any time).

export interface ConcurrencyLimits {
  global: number;
  perRack: number;
  perTenant: number;
}

export interface QueuedReimage {
  operationId: string;
  nodeId: string;
  rack: string;
  tenant: string | null;
  priority: number;
  urgent: boolean;
  /** Queue order: smaller came first. */
  order: number;
}

export interface RunningReimage {
  nodeId: string;
  rack: string;
  tenant: string | null;
}

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

export function pickReimageStarts(
  queued: readonly QueuedReimage[], running: readonly RunningReimage[], limits: ConcurrencyLimits, inWindow: boolean,
): QueuedReimage[] {
  const perRack = new Map<string, number>();
  const perTenant = new Map<string, number>();
  const busy = new Set<string>();
  for (const r of running) {
    bump(perRack, r.rack);
    if (r.tenant !== null) bump(perTenant, r.tenant);
    busy.add(r.nodeId);
  }
  let total = running.length;
  const ordered = [...queued].sort((a, b) => b.priority - a.priority || Number(b.urgent) - Number(a.urgent) || a.order - b.order);
  const starts: QueuedReimage[] = [];
  for (const q of ordered) {
    if (total >= limits.global) break;
    if (busy.has(q.nodeId) || (!q.urgent && !inWindow)) continue;
    if ((perRack.get(q.rack) ?? 0) >= limits.perRack) continue;
    if (q.tenant !== null && (perTenant.get(q.tenant) ?? 0) >= limits.perTenant) continue;
    starts.push(q);
    busy.add(q.nodeId);
    bump(perRack, q.rack);
    if (q.tenant !== null) bump(perTenant, q.tenant);
    total += 1;
  }
  return starts;
}
