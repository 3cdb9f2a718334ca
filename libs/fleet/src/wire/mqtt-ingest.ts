// Adapter: protobuf payloads from the broker's node topics into fleet calls.
// The broker has already checked that the publisher owns the topic's node id.
import { HealthMessageSchema, NodeStatusSchema, Presence as PresenceMessage, TelemetrySchema } from '@metalfleet/proto';
import type { NodeBroker } from '@metalfleet/manager-transport';
import { allNodesTopic, decodePayload, parseNodeTopic } from '@metalfleet/transport';
import type { FleetStore } from '@metalfleet/store';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import type { TelemetrySink } from '@metalfleet/telemetry';
import { conditionsAfter, eventSinceReceived, healthLimits, healthMessageToRecord, sinceReceived } from './health-ingest.ts';
import { telemetryToSample } from './telemetry-ingest.ts';
import type { Presence } from '@metalfleet/domain';
import type { FleetEvents } from '../events/fleet-events.ts';
import type { PresenceTracker } from '../controllers/presence-tracker.ts';
import { maxSessionIdLength, type SharedCredentialWatch } from '../services/shared-credentials.ts';

const presenceFromProto: Record<PresenceMessage, Presence> = {
  [PresenceMessage.UNSPECIFIED]: 'unknown',
  [PresenceMessage.ONLINE]: 'online',
  [PresenceMessage.OFFLINE]: 'offline',
};

export interface IngestDeps {
  broker: NodeBroker;
  presence: PresenceTracker;
  /** Told each online status's session id, to find two agents with one credential. */
  sharedCredentials?: SharedCredentialWatch;
  events: FleetEvents;
  now: () => Date;
  maxPayloadBytes: number;
  store: FleetStore;
  telemetry: readonly TelemetrySink[];
  /**
   * Told each node whose agent says it is online (on each connection): what it was sent meanwhile goes again. Not
   * awaited: it publishes, and a handler of the broker's that waits on a publish can hold the broker (hostile review).
   */
  agentOnline?: (nodeId: string) => void;
  /** Counts ingested messages by topic kind (for /metrics); `lagMs` from the agent's timestamp to now. */
  onIngested?: (kind: string, lagMs: number | null) => void;
}

export async function startMqttIngest(deps: IngestDeps): Promise<void> {
  const bad = (nodeId: string, topic: string, error: string) => deps.events.emit({ type: 'bad-message', nodeId, topic, error, at: deps.now() });

  await deps.broker.subscribe(allNodesTopic('status'), async ({ topic, payload }) => {
    const parsed = parseNodeTopic(topic);
    if (!parsed) return;
    const decoded = decodePayload(NodeStatusSchema, payload, deps.maxPayloadBytes);
    if (!decoded.ok) return bad(parsed.nodeId, topic, decoded.error);
    const presence = presenceFromProto[decoded.message.presence] ?? 'unknown';
    if (presence === 'unknown') return bad(parsed.nodeId, topic, 'status without a presence');
    // (Its token uses were settled when the broker accepted its credential: node-credentials.ts.)
    // The proto's bootId is the agent's session id: a new random one each time it opens a session (mqtt-session.ts).
    const session = decoded.message.bootId.slice(0, maxSessionIdLength);
    // Presence goes by connection within the session: a dropped connection's will delivered after the next one came
    // online is an earlier connection's, and leaves the node online.
    const agent = { session, connection: decoded.message.connection };
    await deps.presence.statusReported(parsed.nodeId, presence, presence === 'online' ? 'agent online' : 'agent offline (last will or shutdown)', agent);
    if (presence !== 'online') return;
    await deps.sharedCredentials?.online(parsed.nodeId, session);
    deps.agentOnline?.(parsed.nodeId);
  });

  // The hot path (thousands of messages a second): synchronous unless presence changes.
  await deps.broker.subscribe(allNodesTopic('telemetry'), ({ topic, payload }) => {
    const parsed = parseNodeTopic(topic);
    if (!parsed) return;
    const decoded = decodePayload(TelemetrySchema, payload, deps.maxPayloadBytes);
    if (!decoded.ok) return bad(parsed.nodeId, topic, decoded.error);
    const now = deps.now();
    const sample = telemetryToSample(parsed.nodeId, decoded.message, now);
    for (const sink of deps.telemetry) sink.write(sample);
    deps.onIngested?.('telemetry', decoded.message.at ? now.getTime() - timestampMs(decoded.message.at) : null);
    return deps.presence.heartbeat(parsed.nodeId);
  });

  await deps.broker.subscribe(allNodesTopic('health'), async ({ topic, payload }) => {
    const parsed = parseNodeTopic(topic);
    if (!parsed) return;
    const decoded = decodePayload(HealthMessageSchema, payload, deps.maxPayloadBytes);
    if (!decoded.ok) return bad(parsed.nodeId, topic, decoded.error);
    const receivedAt = deps.now();
    const record = healthMessageToRecord(decoded.message, receivedAt);
    if (!record.ok) return bad(parsed.nodeId, topic, record.error);
    await deps.presence.heartbeat(parsed.nodeId);
    if (record.kind === 'digest') {
      await deps.store.replaceConditions(parsed.nodeId, sinceReceived(await deps.store.conditions(parsed.nodeId), record.conditions, receivedAt));
      deps.events.emit({ type: 'health-digest', nodeId: parsed.nodeId, conditions: record.conditions.length, at: deps.now() });
      return;
    }
    const before = await deps.store.conditions(parsed.nodeId);
    const held = conditionsAfter(before, record.event);
    if (held > healthLimits.conditionsPerNode) return bad(parsed.nodeId, topic, `health event would leave the node with ${held} conditions (limit ${healthLimits.conditionsPerNode})`);
    const applied = await deps.store.applyHealthEvent(parsed.nodeId, eventSinceReceived(before, record.event));
    deps.events.emit(applied
      ? { type: 'health-changed', nodeId: parsed.nodeId, eventId: record.event.eventId, changes: record.event.changes.map((c) => `${c.kind} ${c.condition.component} ${c.condition.code}`), at: deps.now() }
      : { type: 'health-duplicate', nodeId: parsed.nodeId, eventId: record.event.eventId, at: deps.now() });
  });
}
