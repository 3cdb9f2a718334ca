// The manager on a NATS cluster (--nats-url beside --mqtt-url), the same
// NodeBroker as the others. Agents stay on MQTT 3.1.1 (the cluster's MQTT
// listener); the replicas read natively. Nodes' reports (status, health,
// progress) are read from the stream where the MQTT listener itself keeps
// every QoS 1 publish before it acknowledges it (`$MQTT_msgs`, replicated on
// the broker nodes, kept while a consumer wants it), through one durable
// consumer per kind that all replicas share: each message goes to one replica
// and is acknowledged after its handler stored it; one not acknowledged (the
// handler failed, the replica died) is handed out again. A stream of the
// manager's own that captured the subjects lost what was published while it
// had no leader (a broker node dying), though the node had its PUBACK.
// Telemetry, sent at most once by the agents, is a core queue group. Commands
// go out over MQTT QoS 1, so that a node's persistent session keeps them while
// it is away (NATS hands native publishes to MQTT subscribers at QoS 0).
import type { AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { connect, jwtAuthenticator, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages } from '@nats-io/jetstream';
import type { BrokerEvent, NodeBroker } from './mqtt-broker.ts';
import { boundMqttMessages, drainFormerReports, formerReportsStream, mqttMessagesPrefix, mqttMessagesStream } from './nats-reports.ts';

/** The reports kept until stored: a node's status (and its last will), health, and command progress. */
const reportSubjects = ['status', 'health', 'progress'].map((kind) => `mf.v1.nodes.*.${kind}`);
const queueGroup = 'metalfleet';
/** How long a report handed to a replica waits for its acknowledgement before another replica gets it. */
const ackWaitMs = 15_000;

export interface NatsBrokerOptions {
  /** nats://host:port of each broker node (the replicas' native connection). */
  natsUrls: readonly string[];
  /** mqtts://host:port of each broker node's MQTT listener (commands). */
  mqttUrls: readonly string[];
  /** The manager's native credentials in the fleet account (nats-accounts.ts): the seed signs the server's nonce. */
  credentials: { jwt: string; seed: Uint8Array };
  /** A fresh MQTT password for sending commands (a short-lived token), asked for each connection. */
  commandToken: () => Promise<string>;
  /** Largest report kept (as the embedded broker's --max-payload-bytes): a larger one is not stored, so not acknowledged. */
  maxPayloadBytes: number;
  /** The CA the brokers' certificates are checked with, and the manager's client certificate for the MQTT listener. */
  tls: { caPem: string; certPem: string; keyPem: string };
  clientId: string;
  onEvent?: (event: BrokerEvent) => void;
  onConnection?: (state: { connected: boolean; url: string; reason: string }) => void;
}

/** `mf/v1/nodes/+/status` → `mf.v1.nodes.*.status`. */
export function mqttFilterToSubject(filter: string): string {
  return filter.split('/').map((level) => (level === '+' ? '*' : level === '#' ? '>' : level)).join('.');
}

const subjectToTopic = (subject: string) => (subject.startsWith(mqttMessagesPrefix) ? subject.slice(mqttMessagesPrefix.length) : subject).split('.').join('/');
/** A durable consumer's name from the kind of report it reads (the last level of the filter). */
const durableName = (filter: string) => `metalfleet-${filter.split('/').pop() ?? 'reports'}`;

/** A report a replica could not store (the database away) is handed out again after 1, 2, 4 … s, at most a minute. */
const redeliveryDelayMs = (deliveries: number) => Math.min(60_000, 1000 * 2 ** Math.min(6, Math.max(0, deliveries - 1)));
/** Pause before trying again to set up a consumer the cluster was not ready for (no JetStream leader yet, a node away). */
const retryMs = 2000;

export async function connectNatsBroker(options: NatsBrokerOptions): Promise<NodeBroker> {
  const emit = options.onEvent ?? (() => undefined);
  const report = (message: string) => emit({ type: 'client-error', clientId: options.clientId, message });
  let closed = false;
  // Not awaited here: with every broker node down the manager still starts (readyz says so), and what needs the
  // cluster waits for it.
  const connection: Promise<NatsConnection> = connect({
    servers: [...options.natsUrls],
    name: options.clientId,
    authenticator: jwtAuthenticator(options.credentials.jwt, options.credentials.seed),
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    ...(options.natsUrls.some((url) => url.startsWith('tls:')) ? { tls: { ca: options.tls.caPem } } : {}),
  });
  let connected = false;
  let established: NatsConnection | null = null;
  void connection.then(async (nc) => {
    // Closed before the cluster was reached: this connection is not wanted any more.
    if (closed) return nc.close();
    established = nc;
    connected = true;
    options.onConnection?.({ connected: true, url: nc.getServer(), reason: 'connected' });
    for await (const status of nc.status()) {
      if (status.type !== 'disconnect' && status.type !== 'reconnect') continue;
      connected = status.type === 'reconnect';
      options.onConnection?.({ connected, url: String(status.server), reason: connected ? 'reconnected' : 'connection lost; reconnecting' });
    }
  }, (error: unknown) => report(`could not connect to the NATS cluster: ${String(error)}`));

  const consumers: ConsumerMessages[] = [];
  /** The report filters subscribed to, and those whose durable consumer is set up (reports to them are kept). */
  const reportFilters = new Set<string>();
  const kept = new Set<string>();
  const subscriptions: Subscription[] = [];
  // Said once: the MQTT listener's stream kept on fewer broker nodes than the cluster has (mqtt.stream_replicas).
  let replicasWarned = false;
  /**
   * The filter's durable consumer on the MQTT listener's stream, shared by the replicas: made, or found as another
   * replica made it, once the stream is bounded; then what a former version left in its own stream is read. The
   * stream appears with the first MQTT connection to the account (this manager's own, for commands): until then
   * this fails and is tried again.
   */
  const durableConsumer = async (nc: NatsConnection, filter: string, deliver: (subject: string, data: Uint8Array) => Promise<void>) => {
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    const replicas = await boundMqttMessages(jsm, options.maxPayloadBytes);
    if (replicas < Math.min(3, options.natsUrls.length) && !replicasWarned) {
      replicasWarned = true;
      report(`the broker keeps nodes' reports on ${replicas} node(s) of ${options.natsUrls.length} (set mqtt.stream_replicas: 3 before the first MQTT connection, deploy/ha/nats)`);
    }
    await jsm.consumers.add(mqttMessagesStream, {
      durable_name: durableName(filter), filter_subject: mqttMessagesPrefix + mqttFilterToSubject(filter), ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All, ack_wait: ackWaitMs * 1e6, max_ack_pending: 1000,
    });
    const drained = await drainFormerReports(nc, jsm, durableName(filter), deliver);
    if (drained > 0) report(`read ${drained} reports of ${filter} left in ${formerReportsStream} by a former version`);
    return jetstream(nc, { timeout: 10_000 }).consumers.get(mqttMessagesStream, durableName(filter));
  };
  /** Reads the filter's reports for as long as the broker is open; set up again until the cluster lets it. */
  const readReports = async (filter: string, deliver: (subject: string, data: Uint8Array) => Promise<void>) => {
    while (!closed) {
      try {
        // Pull requests last 10 s (heartbeats every 5): a pull left on a broker node that died is noticed within
        // seconds, not the default 30 s during which this replica would read nothing of this kind.
        // At most 64 reports waiting here at once (each at most the payload limit: the stream is bounded), as each is
        // handed to another replica if not acknowledged within 15 s of its delivery, waiting included. A consumer
        // deleted ends the loop, to be made again.
        const consumer = await durableConsumer(await connection, filter, deliver);
        const messages = await consumer.consume({ max_messages: 64, expires: 10_000, abort_on_missing_resource: true });
        consumers.push(messages);
        kept.add(filter);
        try {
          for await (const message of messages) {
            try {
              await deliver(message.subject, message.data);
              message.ack();
            } catch (error) {
              const deliveries = message.info.deliveryCount;
              // Logged at the first failure and every tenth after it: a database outage is one episode, not a line a report.
              if (deliveries % 10 === 1) report(`message on ${message.subject} not stored, not acknowledged (handed out again; delivery ${deliveries}): ${String(error)}`);
              message.nak(redeliveryDelayMs(deliveries));
            }
          }
        } finally {
          // However it ended (the consumer deleted throws out of the loop): no longer kept, and not held on to.
          kept.delete(filter);
          consumers.splice(consumers.indexOf(messages), 1);
        }
        if (!closed) report(`reading ${filter} from the NATS cluster: the consumer ended; setting it up again`);
      } catch (error) {
        if (closed) return;
        report(`reading ${filter} from the NATS cluster: ${String(error)}; trying again`);
        await new Promise((resolve) => setTimeout(resolve, retryMs));
      }
    }
  };

  const commandClientOptions: IClientOptions & { secureContext?: ReturnType<typeof createSecureContext> } = {
    clientId: options.clientId,
    protocolVersion: 4,
    clean: true,
    username: 'metalfleet-manager',
    servers: options.mqttUrls.map((url) => {
      const parsed = new URL(url);
      return { host: parsed.hostname, port: Number(parsed.port || 8883), protocol: parsed.protocol === 'mqtts:' ? 'mqtts' as const : 'mqtt' as const };
    }),
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    secureContext: createSecureContext({ ca: options.tls.caPem, cert: options.tls.certPem, key: options.tls.keyPem }),
    rejectUnauthorized: true,
  };
  // A token lasting a day, made again for each connection (mqtt.js reads the options each time it connects).
  commandClientOptions.password = await options.commandToken();
  const commands: MqttClient = mqtt.connect(commandClientOptions);
  commands.on('close', () => {
    void options.commandToken().then((token) => (commands.options.password = token), () => undefined);
  });
  commands.on('error', (error) => emit({ type: 'client-error', clientId: options.clientId, message: `commands over MQTT: ${error.message}` }));

  return {
    listen(): Promise<AddressInfo> {
      return Promise.reject(new Error('the manager does not listen for MQTT with an external broker (--mqtt-url)'));
    },
    async subscribe(filter, handler) {
      const deliver = async (subject: string, data: Uint8Array) => handler({ topic: subjectToTopic(subject), payload: Buffer.from(data) });
      const subject = mqttFilterToSubject(filter);
      if (reportSubjects.includes(subject)) {
        reportFilters.add(filter);
        void readReports(filter, deliver);
        return;
      }
      // Telemetry (sent at most once by the agents): one replica of the queue group gets each reading.
      void connection.then(async (nc) => {
        if (closed) return;
        const sub = nc.subscribe(subject, { queue: queueGroup });
        subscriptions.push(sub);
        for await (const message of sub) {
          await deliver(message.subject, message.data).catch((error: unknown) => report(`on ${message.subject}: ${String(error)}`));
        }
      }, () => undefined);
    },
    async publish(topic, payload, { qos, retain }) {
      await commands.publishAsync(topic, Buffer.from(payload), { qos, retain });
    },
    connectedClients: () => 0,
    admission: () => ({ connecting: 0, waiting: 0, shed: 0 }),
    listening: () => connected && commands.connected,
    reportsWaiting() {
      const waiting = [...reportFilters].filter((filter) => !kept.has(filter));
      return waiting.length === 0 ? null : `the NATS cluster's consumers for ${waiting.join(', ')} are not set up yet`;
    },
    async close() {
      closed = true;
      for (const messages of consumers) await messages.close().catch(() => undefined);
      for (const sub of subscriptions) sub.unsubscribe();
      await commands.endAsync();
      // A cluster never reached: the attempt goes on in the background and closes itself if it ever connects (above).
      await established?.close();
    },
  };
}
