// Failure analytics: every failure is recorded once with the node's cohorts at
// that moment — a critical health condition (at the time it appeared), a
// failed reimage, a node in service that stayed offline, a failed acceptance
// run — and failure rates are computed over them by libs/domain. Repairs are
// recorded the same way and counted per cohort beside the failures.
import { cohortsOf, failureRates, failureTrend, type AlertNode, type TrendPoint, type CohortDimension, type Cohorts, type CohortRate, type FailureEvent, type FailureKind } from '@metalfleet/domain';
import type { FleetStore } from '@metalfleet/store';
import type { FleetEvents } from '../events/fleet-events.ts';

const inService = new Set(['allocated', 'provisioning', 'active']);

export interface FailureDeps {
  store: FleetStore;
  events: FleetEvents;
  onError: (error: unknown, context: Record<string, unknown>) => void;
  /** A node in service offline this long is lost (shorter: a blip, or the manager's own restart). Default 60 s. */
  lostAfterMs?: number;
  /** How long a node's cohorts (from its inventory) are reused before they are read again. Default 10 min. */
  cohortTtlMs?: number;
  /** How long one read of every node is reused (default 2 s; 0: every call reads). */
  populationTtlMs?: number;
}

/** Only what belongs to `tenant` (all of it when null): what a tenant-scoped token may see. */
function ofTenant<T extends { cohorts: Cohorts }>(items: readonly T[], tenant: string | null): readonly T[] {
  return tenant === null ? items : items.filter((x) => x.cohorts.tenant === tenant);
}

/** The pool a node is counted in: its tenant, or the spares. */
const poolOf = (tenant: string | null) => tenant ?? 'spares';

export function createFailures(deps: FailureDeps) {
  const lostAfterMs = deps.lostAfterMs ?? 60_000;
  const pendingLost = new Map<string, NodeJS.Timeout>();
  async function cohortsFor(nodeId: string) {
    const node = await deps.store.getNode(nodeId);
    return node ? cohortsOf({ rack: node.rack, tenant: node.tenant, pool: poolOf(node.tenant) }, node.inventory) : null;
  }

  async function record(nodeId: string, kind: FailureKind, code: string, at: Date): Promise<void> {
    const cohorts = await cohortsFor(nodeId);
    if (!cohorts) return;
    if (await deps.store.recordFailure({ nodeId, kind, code, at, cohorts })) deps.events.emit({ type: 'failure-recorded', nodeId, kind, code, at });
  }

  async function onEvent(event: Parameters<Parameters<FleetEvents['on']>[0]>[0]): Promise<void> {
    switch (event.type) {
      case 'health-changed':
      case 'health-digest':
        for (const c of (await deps.store.conditions(event.nodeId)).filter((x) => x.severity === 'critical')) {
          await record(event.nodeId, 'critical-condition', c.code, c.since);
        }
        return;
      case 'operation-progress':
        if (event.phase === 'failed') await record(event.nodeId, 'reimage-failed', 'reimage-failed', event.at);
        return;
      case 'state-changed':
        // Acceptance failures are failures of the hardware; repairs are counted beside them, per cohort.
        if (event.event === 'acceptance-failed') await record(event.nodeId, 'acceptance-failed', 'acceptance', event.at);
        if (event.event === 'repaired') await record(event.nodeId, 'repaired', 'repaired', event.at);
        return;
      case 'presence-changed': {
        clearTimeout(pendingLost.get(event.nodeId));
        pendingLost.delete(event.nodeId);
        if (event.presence !== 'offline') return;
        // Lost only if it is still offline, and in service, after the grace period.
        pendingLost.set(event.nodeId, setTimeout(() => {
          pendingLost.delete(event.nodeId);
          void deps.store.getNodeSummary(event.nodeId).then(async (node) => {
            if (node && node.presence === 'offline' && inService.has(node.state)) await record(event.nodeId, 'node-lost', 'node-lost', event.at);
          }).catch((error: unknown) => deps.onError(error, { step: 'record node lost', nodeId: event.nodeId }));
        }, lostAfterMs));
        return;
      }
      default:
    }
  }

  // Cohorts come from inventories, which change rarely: each node's are kept
  // for a while (forgotten at once when it registers again or changes tenant),
  // so a population read costs one node listing, and concurrent reads share it.
  const cohortCache = new Map<string, { cohorts: Cohorts; at: number }>();
  const cohortTtlMs = deps.cohortTtlMs ?? 600_000;
  const populationTtlMs = deps.populationTtlMs ?? 2000;
  let reading: Promise<AlertNode[]> | null = null;
  const forget = deps.events.on((event) => {
    if (event.type === 'node-registered' || event.type === 'node-tenant-changed') cohortCache.delete(event.nodeId);
  });

  async function readPopulation(): Promise<AlertNode[]> {
    const members: AlertNode[] = [];
    const now = performance.now();
    let reads = 0;
    for (const summary of await deps.store.listNodes()) {
      if (summary.state === 'retired') continue;
      let cached = cohortCache.get(summary.id);
      if (!cached || now - cached.at > cohortTtlMs) {
        // Reading inventories blocks (SQLite is synchronous): let telemetry through every 100.
        if ((reads += 1) % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
        const node = await deps.store.getNode(summary.id);
        if (!node) continue;
        cached = { cohorts: cohortsOf({ rack: node.rack, tenant: node.tenant, pool: poolOf(node.tenant) }, node.inventory), at: now };
        cohortCache.set(summary.id, cached);
      }
      members.push({ nodeId: summary.id, hostname: summary.hostname, cohorts: cached.cohorts, state: summary.state, presence: summary.presence, since: summary.registeredAt });
    }
    return members;
  }

  /**
   * Every node not retired, with its cohorts, state and presence. A read is
   * reused for 2 s: the overview asks for five rates at once, and one listing
   * of 10,000 nodes takes about 130 ms.
   */
  let lastRead: { at: number; members: Promise<AlertNode[]> } | null = null;
  function population(): Promise<AlertNode[]> {
    if (lastRead && performance.now() - lastRead.at < populationTtlMs) return lastRead.members;
    reading ??= readPopulation().finally(() => {
      reading = null;
    });
    lastRead = { at: performance.now(), members: reading };
    return reading;
  }

  return {
    listen(): () => void {
      let queue = Promise.resolve();
      const off = deps.events.on((event) => {
        queue = queue.then(() => onEvent(event)).catch((error: unknown) => deps.onError(error, { step: 'record failure', type: event.type }));
      });
      return () => {
        off();
        forget();
        for (const timer of pendingLost.values()) clearTimeout(timer);
        pendingLost.clear();
      };
    },

    population,
    /** Rates per cohort of one dimension over the window ending now; the population is every node not retired (of one tenant, if given). */
    async rates(by: CohortDimension, windowMs: number, now: Date, tenant: string | null = null): Promise<CohortRate[]> {
      const events: FailureEvent[] = await deps.store.failuresSince(new Date(now.getTime() - windowMs));
      return failureRates(ofTenant(events, tenant), ofTenant(await population(), tenant), { by, windowMs, now });
    },
    /** Failures per day over the last `days` days (of one tenant, if given), for the overview's trend. */
    async trend(days: number, now: Date, tenant: string | null = null): Promise<TrendPoint[]> {
      const events = ofTenant(await deps.store.failuresSince(new Date(now.getTime() - days * 86_400_000)), tenant);
      return failureTrend(events, ofTenant(await population(), tenant).length, 86_400_000, days, now);
    },
    /** Rates for several dimensions at once (one read of the fleet): for /metrics. */
    async ratesBy(dimensions: readonly CohortDimension[], windowMs: number, now: Date): Promise<Array<{ by: CohortDimension; rates: CohortRate[] }>> {
      const events: FailureEvent[] = await deps.store.failuresSince(new Date(now.getTime() - windowMs));
      const members = await population();
      return dimensions.map((by) => ({ by, rates: failureRates(events, members, { by, windowMs, now }) }));
    },
  };
}

export type Failures = ReturnType<typeof createFailures>;
