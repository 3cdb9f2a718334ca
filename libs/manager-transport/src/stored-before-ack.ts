// A node's QoS 1 publish is acknowledged only once the manager has handled it.
//
// aedes writes the PUBACK of a QoS 1 publish before it hands the message to
// subscribers, so an in-process subscriber that fails (its store write failed)
// cannot take the PUBACK back: the node drops the report from its spool and it
// is lost. The one hook aedes runs before the PUBACK is authorizePublish; the
// manager's handlers run there instead, and the message they handled is skipped
// when aedes delivers it afterwards. A handler that fails makes the hook fail:
// aedes closes the connection without a PUBACK, the node keeps its persistent
// session and sends the report again after it reconnects (handlers store each
// report once by its id).
//
// One node's reports run one at a time, in the order they came: a report may
// depend on the one before it (a command's progress). aedes reads no more of
// a connection until the packets it read are done, so a node that sends faster
// than the store keeps up waits on its own connection; after a failure the
// rest of what it sent is refused without running, so a node that floods with
// publishes that fail costs one handler run per connection.
import type { Client, PublishPacket } from 'aedes';

export type ReportHandler = (message: { topic: string; payload: Buffer }) => Promise<void> | void;

/** Whether an MQTT topic filter (`+` one level, `#` the rest) matches a topic. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i += 1) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

export function createStoredBeforeAck(onFailed: (client: Client, topic: string, error: unknown) => void) {
  const handlers: { filter: string; handler: ReportHandler }[] = [];
  // Payloads handled before their PUBACK: their later delivery to the same handlers is skipped.
  const handled = new WeakSet<Buffer>();
  const lanes = new WeakMap<Client, { tail: Promise<void>; failed: boolean }>();

  async function runHandlers(topic: string, payload: Buffer): Promise<void> {
    for (const { filter, handler } of handlers) {
      if (topicMatches(filter, topic)) await handler({ topic, payload });
    }
  }

  return {
    add(filter: string, handler: ReportHandler): void {
      handlers.push({ filter, handler });
    },

    /** Whether aedes's delivery of this payload to the in-process subscribers is the second one (skip it). */
    alreadyHandled: (payload: Buffer): boolean => handled.has(payload),

    /**
     * A node's publish, authorized: QoS 1 publishes from the wire (they carry a packet id; a will does not) run their
     * handlers now, and `done` is called once they have finished (the PUBACK follows) or with their error (no PUBACK).
     */
    beforeAck(client: Client, packet: PublishPacket, done: (error: Error | null) => void): void {
      if (packet.qos !== 1 || typeof packet.messageId !== 'number' || !Buffer.isBuffer(packet.payload)) return done(null);
      const payload = packet.payload;
      if (!handlers.some((h) => topicMatches(h.filter, packet.topic))) return done(null);
      let lane = lanes.get(client);
      if (!lane) {
        lane = { tail: Promise.resolve(), failed: false };
        lanes.set(client, lane);
      }
      const own = lane;
      own.tail = own.tail.then(async () => {
        if (own.failed) return done(new Error('an earlier report on this connection was not stored'));
        try {
          await runHandlers(packet.topic, payload);
          handled.add(payload);
          done(null);
        } catch (error) {
          own.failed = true;
          onFailed(client, packet.topic, error);
          done(new Error('report not stored; not acknowledged (the node sends it again)'));
        }
      });
    },
  };
}
