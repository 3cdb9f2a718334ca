// Where nodes' reports wait on a NATS cluster: the stream in which the MQTT
// listener stores each QoS 1 publish before its PUBACK (`$MQTT_msgs`), made by
// nats-server with no limits, which the manager bounds; and the stream a former
// version kept them in (`METALFLEET_REPORTS`), read to its end before it is
// removed, so that an upgrade loses nothing that was acknowledged.
import { DiscardPolicy, jetstream, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

/**
 * The stream in which the NATS MQTT listener stores a QoS 1 publish (under `$MQTT.msgs.<subject>`) before its PUBACK
 * (nats-server mqttProcessPub), made by the server with interest retention and the cluster's replicas.
 */
export const mqttMessagesStream = '$MQTT_msgs';
export const mqttMessagesPrefix = '$MQTT.msgs.';
/** Where reports were kept before 2026-11-28 (a report published while it had no leader was lost, though acknowledged). */
export const formerReportsStream = 'METALFLEET_REPORTS';

/**
 * Each node's messages of one kind kept at most this many while no replica took them: a node flooding its own topics
 * loses its own oldest, and fills no broker's disk.
 */
export const maxPerNodeAndKind = 10_000;
/** Room for a stored message's NATS headers (the MQTT listener's `Nmqtt-Pub`) beside its payload. */
const headerRoomBytes = 4096;

/**
 * Bounds the MQTT listener's stream, which the server makes with no limits: at most `maxPerNodeAndKind` per subject
 * (the oldest go) and no message over the payload limit (a larger QoS 1 publish is not stored, so not acknowledged).
 * nats-server only ever creates this stream: it never sets its configuration back. Resolves with its replicas.
 */
export async function boundMqttMessages(jsm: JetStreamManager, maxPayloadBytes: number): Promise<number> {
  const { config } = await jsm.streams.info(mqttMessagesStream);
  const limits = { max_msgs_per_subject: maxPerNodeAndKind, discard: DiscardPolicy.Old, max_msg_size: maxPayloadBytes + headerRoomBytes };
  const bounded = config.max_msgs_per_subject === limits.max_msgs_per_subject && config.discard === limits.discard && config.max_msg_size === limits.max_msg_size;
  if (!bounded) await jsm.streams.update(mqttMessagesStream, limits);
  return config.num_replicas;
}

/**
 * Hands what the former stream still holds for `durable` to `deliver`, acknowledging each once delivered, until
 * nothing is left; then removes that consumer, and the stream once it has none. Called once the new consumer exists:
 * reports published from then on are kept in `$MQTT_msgs` too, and the few that arrive both ways are stored once
 * (the handlers are idempotent). A failed delivery rejects, and the drain is taken up again later.
 */
export async function drainFormerReports(nc: NatsConnection, jsm: JetStreamManager, durable: string, deliver: (subject: string, data: Uint8Array) => Promise<void>): Promise<number> {
  const removeStreamIfUnused = async () => {
    const info = await jsm.streams.info(formerReportsStream).catch(() => null);
    if (info && info.state.consumer_count === 0) await jsm.streams.delete(formerReportsStream).catch(() => false);
  };
  if (!(await jsm.consumers.info(formerReportsStream, durable).then(() => true, () => false))) {
    await removeStreamIfUnused();
    return 0;
  }
  const consumer = await jetstream(nc, { timeout: 10_000 }).consumers.get(formerReportsStream, durable);
  let delivered = 0;
  for (;;) {
    let got = 0;
    for await (const message of await consumer.fetch({ max_messages: 64, expires: 2000 })) {
      await deliver(message.subject, message.data);
      message.ack();
      got += 1;
    }
    delivered += got;
    if (got > 0) continue;
    const info = await jsm.consumers.info(formerReportsStream, durable);
    if (info.num_pending === 0 && info.num_ack_pending === 0) break;
  }
  await jsm.consumers.delete(formerReportsStream, durable).catch(() => false);
  await removeStreamIfUnused();
  return delivered;
}
