// Adapter: a HealthMessage from the wire into what the store keeps. Anything
// malformed (unknown severity, missing condition, no event id) is refused whole.
import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { HealthCondition } from '@metalfleet/domain';
import type { HealthMessage } from '@metalfleet/proto';
import type { HealthEventRecord } from '@metalfleet/store';
import { changeKindFromProto, conditionFromProto } from '@metalfleet/transport';

export type HealthRecord =
  | { ok: true; kind: 'event'; event: HealthEventRecord }
  | { ok: true; kind: 'digest'; conditions: HealthCondition[] }
  | { ok: false; error: string };

const maxChanges = 1000;

export function healthMessageToRecord(message: HealthMessage, receivedAt: Date): HealthRecord {
  if (message.kind.case === 'digest') {
    const conditions = message.kind.value.conditions.map(conditionFromProto);
    if (conditions.some((c) => c === null)) return { ok: false, error: 'digest with an invalid condition' };
    return { ok: true, kind: 'digest', conditions: conditions as HealthCondition[] };
  }
  if (message.kind.case !== 'event') return { ok: false, error: 'health message is neither an event nor a digest' };
  const e = message.kind.value;
  if (!/^[A-Za-z0-9-]{8,64}$/.test(e.eventId)) return { ok: false, error: 'health event without a valid event id' };
  if (e.changes.length === 0 || e.changes.length > maxChanges) return { ok: false, error: `health event with ${e.changes.length} changes` };
  const changes: HealthEventRecord['changes'] = [];
  for (const c of e.changes) {
    const kind = changeKindFromProto.get(c.kind);
    const condition = conditionFromProto(c.condition);
    if (!kind || !condition) return { ok: false, error: 'health event with an invalid change' };
    changes.push({ kind, condition });
  }
  return { ok: true, kind: 'event', event: { eventId: e.eventId, sequence: Number(e.sequence), at: e.at ? timestampDate(e.at) : receivedAt, receivedAt, changes } };
}
