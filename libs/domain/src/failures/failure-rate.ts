// Failure rates over a sliding window: distinct failed nodes / nodes in the
// cohort, per cohort of one dimension, with the failures counted and an MTBF
// estimate (node-hours in the window / failures); and failures per day. (A
// fault that comes back after a repair or reimage: remediation-policy.ts.)
import type { CohortDimension, Cohorts } from './cohorts.ts';

/**
 * What is recorded per node: its failures (a critical condition, a failed reimage, lost in service, a failed acceptance
 * run), and its repairs — a record, not a failure: counted per cohort beside them, so a bad batch's repairs show.
 */
export type FailureKind = 'critical-condition' | 'reimage-failed' | 'node-lost' | 'acceptance-failed' | 'repaired';
const notFailures: ReadonlySet<FailureKind> = new Set(['repaired']);

export interface FailureEvent {
  nodeId: string;
  at: Date;
  kind: FailureKind;
  /** What failed, e.g. "xid-79" or "ecc-dbe"; the same code twice is a repeat. */
  code: string;
  /** The node's cohorts when it failed. */
  cohorts: Cohorts;
}

export interface CohortMember {
  nodeId: string;
  cohorts: Cohorts;
  /** When the node joined the fleet: its hours in a window start there (absent: the whole window). */
  since?: Date;
}

/**
 * Node-hours a cohort must have been watched in the window before its MTBF is shown: 4 nodes minutes old with one
 * failure are no "60 h between failures" (issue 23).
 */
export const minMtbfExposureHours = 100;

export interface CohortRate {
  /** The cohort's value in the dimension, e.g. rack "r12". */
  cohort: string;
  nodes: number;
  failedNodes: number;
  failures: number;
  /** failedNodes / nodes, 0..1. */
  rate: number;
  /** The cohort's node-hours in the window (each node from when it joined) per failure; null without failures, or under `minMtbfExposureHours`. */
  mtbfHours: number | null;
  /** Of the failures, the acceptance runs that failed; and the repairs done (no failures) in the window. */
  acceptanceFailures: number;
  repairs: number;
}

export interface RateQuery {
  by: CohortDimension;
  windowMs: number;
  now: Date;
}

/** Rates per cohort, highest rate first (ties: more failed nodes, then name). Cohorts without nodes are left out. */
export function failureRates(events: readonly FailureEvent[], population: readonly CohortMember[], query: RateQuery): CohortRate[] {
  const since = query.now.getTime() - query.windowMs;
  const sizes = new Map<string, number>();
  const exposureMs = new Map<string, number>();
  for (const member of population) {
    const cohort = member.cohorts[query.by];
    sizes.set(cohort, (sizes.get(cohort) ?? 0) + 1);
    const watched = member.since ? Math.max(0, Math.min(query.windowMs, query.now.getTime() - member.since.getTime())) : query.windowMs;
    exposureMs.set(cohort, (exposureMs.get(cohort) ?? 0) + watched);
  }
  const failed = new Map<string, Set<string>>();
  const counts = new Map<string, number>();
  const byKind = new Map<string, number>();
  const add = (key: string) => byKind.set(key, (byKind.get(key) ?? 0) + 1);
  for (const event of events) {
    const t = event.at.getTime();
    if (t <= since || t > query.now.getTime()) continue;
    const cohort = event.cohorts[query.by];
    if (!sizes.has(cohort)) continue;
    add(`${cohort}\u0000${event.kind}`);
    if (notFailures.has(event.kind)) continue;
    if (!failed.has(cohort)) failed.set(cohort, new Set());
    failed.get(cohort)?.add(event.nodeId);
    counts.set(cohort, (counts.get(cohort) ?? 0) + 1);
  }
  return [...sizes].map(([cohort, nodes]) => {
    const failedNodes = failed.get(cohort)?.size ?? 0;
    const failures = counts.get(cohort) ?? 0;
    const nodeHours = (exposureMs.get(cohort) ?? 0) / 3_600_000;
    return {
      cohort, nodes, failedNodes, failures, rate: failedNodes / nodes, mtbfHours: failures === 0 || nodeHours < minMtbfExposureHours ? null : nodeHours / failures,
      acceptanceFailures: byKind.get(`${cohort}\u0000acceptance-failed`) ?? 0, repairs: byKind.get(`${cohort}\u0000repaired`) ?? 0,
    };
  }).sort((a, b) => b.rate - a.rate || b.failedNodes - a.failedNodes || a.cohort.localeCompare(b.cohort));
}

export interface TrendPoint {
  /** Start of the bucket. */
  at: Date;
  failures: number;
  failedNodes: number;
  /** failedNodes / the population now (the past population is not kept). */
  rate: number;
}

/** Failures per bucket (e.g. a day) over `buckets` buckets ending with the one holding `now`, oldest first. */
export function failureTrend(events: readonly FailureEvent[], populationSize: number, bucketMs: number, buckets: number, now: Date): TrendPoint[] {
  const lastStart = Math.floor(now.getTime() / bucketMs) * bucketMs;
  const firstStart = lastStart - (buckets - 1) * bucketMs;
  const points = Array.from({ length: buckets }, (_, i) => ({ at: new Date(firstStart + i * bucketMs), failures: 0, nodes: new Set<string>() }));
  for (const e of events) {
    if (notFailures.has(e.kind)) continue;
    const i = Math.floor((e.at.getTime() - firstStart) / bucketMs);
    const point = points[i];
    if (!point || e.at.getTime() > now.getTime()) continue;
    point.failures += 1;
    point.nodes.add(e.nodeId);
  }
  return points.map((p) => ({ at: p.at, failures: p.failures, failedNodes: p.nodes.size, rate: populationSize === 0 ? 0 : p.nodes.size / populationSize }));
}
