// Adapter: a HealthMessage from the wire into what the store keeps. Anything
// malformed (unknown severity, missing condition, no event id) or beyond the
// limits below is refused whole: the node's OS is the tenant's, and what it
// sends is kept, scanned and streamed, so nothing in it may grow without bound.
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { conditionKey, type HealthCondition } from '@metalfleet/domain';
import type { HealthMessage } from '@metalfleet/proto';
import type { HealthEventRecord } from '@metalfleet/store';
import { changeKindFromProto, conditionFromProto } from '@metalfleet/transport';

export type HealthRecord =
  | { ok: true; kind: 'event'; event: HealthEventRecord }
  | { ok: true; kind: 'digest'; conditions: HealthCondition[] }
  | { ok: false; error: string };

/** A real 8-GPU node has a few dozen conditions at most; these leave room and bound what one node can make the manager keep. */
export const healthLimits = { conditionsPerNode: 256, changesPerEvent: 256, componentChars: 64, codeChars: 64, messageChars: 1024, evidenceLines: 3 } as const;

// PostgreSQL text cannot hold NUL: a report with one could never be stored, and one never stored is never acknowledged
// (the node would send it again forever, its later reports behind it). Refused here, as bad input, it is acknowledged.
const hasNul = (text: string) => text.includes('\u0000');

function oversized(c: HealthCondition): boolean {
  return c.component.length > healthLimits.componentChars || c.code.length > healthLimits.codeChars || c.message.length > healthLimits.messageChars
    || hasNul(c.component) || hasNul(c.code) || hasNul(c.message);
}

const tooLong = `a condition's component, code or message over ${healthLimits.componentChars}, ${healthLimits.codeChars} or ${healthLimits.messageChars} characters (or holding a NUL)`;

export function healthMessageToRecord(message: HealthMessage, receivedAt: Date): HealthRecord {
  if (message.kind.case === 'digest') {
    const conditions = message.kind.value.conditions.map(conditionFromProto);
    if (conditions.some((c) => c === null)) return { ok: false, error: 'digest with an invalid condition' };
    if (conditions.length > healthLimits.conditionsPerNode) return { ok: false, error: `digest with ${conditions.length} conditions (limit ${healthLimits.conditionsPerNode})` };
    if ((conditions as HealthCondition[]).some(oversized)) return { ok: false, error: `digest with ${tooLong}` };
    return { ok: true, kind: 'digest', conditions: conditions as HealthCondition[] };
  }
  if (message.kind.case !== 'event') return { ok: false, error: 'health message is neither an event nor a digest' };
  const e = message.kind.value;
  if (!/^[A-Za-z0-9-]{8,64}$/.test(e.eventId)) return { ok: false, error: 'health event without a valid event id' };
  if (e.changes.length === 0 || e.changes.length > healthLimits.changesPerEvent) return { ok: false, error: `health event with ${e.changes.length} changes (limit ${healthLimits.changesPerEvent})` };
  const changes: HealthEventRecord['changes'] = [];
  for (const c of e.changes) {
    const kind = changeKindFromProto.get(c.kind);
    const condition = conditionFromProto(c.condition);
    if (!kind || !condition) return { ok: false, error: 'health event with an invalid change' };
    if (oversized(condition)) return { ok: false, error: `health event with ${tooLong}` };
    const evidence = [...c.evidence];
    if (evidence.length > healthLimits.evidenceLines || evidence.some((l) => l.length > healthLimits.messageChars || hasNul(l))) {
      return { ok: false, error: `health event with more than ${healthLimits.evidenceLines} evidence lines, or one over ${healthLimits.messageChars} characters (or holding a NUL)` };
    }
    changes.push({ kind, condition, ...(evidence.length > 0 && kind !== 'cleared' ? { evidence } : {}) });
  }
  // What the store cannot hold is refused, not retried: a time no Date holds, a sequence beyond an exact number.
  const at = e.at ? timestampDate(e.at) : receivedAt;
  if (!Number.isFinite(at.getTime())) return { ok: false, error: 'health event with a time no date can hold' };
  if (e.sequence > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, error: `health event with sequence ${e.sequence} (at most ${Number.MAX_SAFE_INTEGER})` };
  return { ok: true, kind: 'event', event: { eventId: e.eventId, sequence: Number(e.sequence), at, receivedAt, changes } };
}

/**
 * The node's conditions stamped with the manager's time: one the node already holds keeps the time the manager first
 * got it, a new one gets `receivedAt`. The node's own clock may be off by hours (its claimed time stays on the health
 * event, for display); failure windows and "since when" must not move with it.
 */
export function sinceReceived(held: readonly HealthCondition[], conditions: readonly HealthCondition[], receivedAt: Date): HealthCondition[] {
  const first = new Map(held.map((c) => [conditionKey(c), c.since]));
  return conditions.map((c) => ({ ...c, since: first.get(conditionKey(c)) ?? receivedAt }));
}

/** A health event whose raised and updated conditions are stamped as sinceReceived does. */
export function eventSinceReceived(held: readonly HealthCondition[], event: HealthEventRecord): HealthEventRecord {
  const stamped = sinceReceived(held, event.changes.map((c) => c.condition), event.receivedAt);
  return { ...event, changes: event.changes.map((c, i) => ({ ...c, condition: stamped[i] ?? c.condition })) };
}

/** How many conditions the node would hold after `event` (those it holds, plus the ones the event adds). */
export function conditionsAfter(held: readonly HealthCondition[], event: HealthEventRecord): number {
  const keys = new Set(held.map(conditionKey));
  for (const change of event.changes) {
    if (change.kind === 'cleared') keys.delete(conditionKey(change.condition));
    else keys.add(conditionKey(change.condition));
  }
  return keys.size;
}
