// The manager on an external MQTT broker (--mqtt-url: Mosquitto, a NATS
// cluster's MQTT listener), the same NodeBroker as the embedded one. The broker
// checks nodes by itself (client certificates, per-node ACLs); the manager is a
// client with a certificate of its own. Every replica subscribes in one shared
// group ($share/metalfleet/…), so each node message is taken by one replica;
// its QoS 1 acknowledgement goes back only once the handler has stored it: a
// handler that fails drops the connection unacknowledged, and the broker hands
// the message out again when this session is back (persistent, clean: false).
// Several broker URLs are tried in turn when one is unreachable.
import type { AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { BrokerEvent, BrokerMessage, NodeBroker } from './mqtt-broker.ts';

export const shareGroup = 'metalfleet';

export interface ExternalBrokerOptions {
  /** mqtts://host:port (or mqtt:// on a trusted network), one per broker node. */
  urls: readonly string[];
  /** The CA the broker's server certificate is checked with, and the manager's client certificate and key. */
  tls: { caPem: string; certPem: string; keyPem: string } | null;
  /** Unique per replica: the broker keeps one session per client id. */
  clientId: string;
  onEvent?: (event: BrokerEvent) => void;
  /** Told when the connection to the broker comes up or goes down. */
  onConnection?: (state: { connected: boolean; url: string; reason: string }) => void;
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer from the broker in ${ms} ms`)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Whether an MQTT topic matches a subscription filter (`+` one level, `#` the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

export async function connectExternalBroker(options: ExternalBrokerOptions): Promise<NodeBroker> {
  const emit = options.onEvent ?? (() => undefined);
  const servers = options.urls.map((url) => {
    const parsed = new URL(url);
    const secure = parsed.protocol === 'mqtts:';
    return { host: parsed.hostname, port: Number(parsed.port || (secure ? 8883 : 1883)), protocol: secure ? 'mqtts' as const : 'mqtt' as const };
  });
  const handlers: Array<{ filter: string; handler: (message: BrokerMessage) => Promise<void> | void }> = [];
  const clientOptions: IClientOptions & { secureContext?: ReturnType<typeof createSecureContext> } = {
    clientId: options.clientId,
    clean: false,
    protocolVersion: 5,
    // The session outlives a restart of this replica: what came meanwhile waits for it.
    properties: { sessionExpiryInterval: 7 * 24 * 3600 },
    servers,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    keepalive: 30,
    // Subscribed on every connection below instead: a broker that restarted may have lost the session's
    // shared subscriptions while saying the session is present (Mosquitto 2.0 did, in the external-broker test).
    resubscribe: false,
    ...(options.tls ? { secureContext: createSecureContext({ ca: options.tls.caPem, cert: options.tls.certPem, key: options.tls.keyPem }), rejectUnauthorized: true } : {}),
  };
  const client: MqttClient = mqtt.connect(clientOptions);
  let closed = false;
  const currentUrl = () => `${client.options.protocol ?? 'mqtt'}://${client.options.host ?? ''}:${client.options.port ?? ''}`;
  const subscribeAll = (filters: readonly string[]) => {
    if (filters.length === 0 || !client.connected) return;
    client.subscribe(filters.map((filter) => `$share/${shareGroup}/${filter}`), { qos: 1 }, (error, granted) => {
      const refused = granted?.filter((g) => g.qos > 2).map((g) => g.topic) ?? [];
      if (error || refused.length > 0) emit({ type: 'client-error', clientId: options.clientId, message: `subscription refused by the broker: ${error?.message ?? refused.join(', ')}` });
    });
  };
  client.on('connect', () => {
    subscribeAll(handlers.map((h) => h.filter));
    options.onConnection?.({ connected: true, url: currentUrl(), reason: 'connected' });
  });
  client.on('close', () => {
    if (!closed) options.onConnection?.({ connected: false, url: currentUrl(), reason: 'connection closed; reconnecting' });
  });
  client.on('error', (error) => emit({ type: 'client-error', clientId: options.clientId, message: error.message }));

  // Acknowledged (PUBACK) only once every matching handler has finished.
  const dispatch = (on: MqttClient, clientId: string): MqttClient['handleMessage'] => (packet, done) => {
    const publish = packet as IPublishPacket;
    const topic = publish.topic;
    const payload = typeof publish.payload === 'string' ? Buffer.from(publish.payload) : Buffer.from(publish.payload);
    const matching = handlers.filter((h) => topicMatches(h.filter, topic));
    Promise.all(matching.map((h) => h.handler({ topic, payload }))).then(() => done(), (error: unknown) => {
      emit({ type: 'client-error', clientId, message: `message on ${topic} not stored, not acknowledged (the broker sends it again): ${String(error)}` });
      // No PUBACK: the connection goes, and the broker redelivers the message to this session when it is back.
      on.stream.destroy();
    });
  };
  client.handleMessage = dispatch(client, options.clientId);

  return {
    listen(): Promise<AddressInfo> {
      return Promise.reject(new Error('the manager does not listen for MQTT with an external broker (--mqtt-url)'));
    },
    // Not awaited: with every broker node down the manager still starts (readyz says so); the subscription is
    // made on the next connection, and again on every one after it.
    async subscribe(filter, handler) {
      handlers.push({ filter, handler });
      subscribeAll([filter]);
    },
    async publish(topic, payload, { qos, retain }) {
      await client.publishAsync(topic, Buffer.from(payload), { qos, retain });
    },
    // The external broker counts its own clients (its $SYS topics or metrics).
    connectedClients: () => 0,
    admission: () => ({ connecting: 0, waiting: 0, shed: 0 }),
    listening: () => client.connected,
    async close() {
      closed = true;
      await client.endAsync();
    },
    // A session of a member of the shared subscription keeps what the broker gave it: a replica killed for good would
    // take its messages with it. Connected under its id, this replica is given them; the session is then ended.
    async adoptSession(clientId) {
      let handled = 0;
      const adopter = mqtt.connect({ ...clientOptions, clientId, reconnectPeriod: 0 });
      const original = dispatch(adopter, clientId);
      let last = Date.now();
      adopter.handleMessage = (packet, done) => {
        handled += 1;
        last = Date.now();
        original(packet, done);
      };
      try {
        await withTimeout(new Promise<void>((resolve, reject) => {
          adopter.once('connect', () => resolve());
          adopter.once('error', reject);
          adopter.once('close', () => reject(new Error(`could not connect as ${clientId}`)));
        }), 10_000, `connecting as ${clientId}`);
        // Out of the shared group first: in it, the session would be handed new messages for as long as it is connected
        // (and after it, with no one to read them). What it held comes at once on connecting.
        await withTimeout(adopter.unsubscribeAsync(handlers.map((h) => `$share/${shareGroup}/${h.filter}`)), 5000, 'leaving the shared subscriptions');
        // Then until it has been quiet for a second (at most a minute): handled and acknowledged.
        const until = Date.now() + 60_000;
        while (Date.now() - last < 1000 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 200));
        return handled;
      } finally {
        // Session expiry 0 at disconnect: the broker forgets the session (MQTT 5).
        await withTimeout(adopter.endAsync(false, { properties: { sessionExpiryInterval: 0 } }), 5000, 'disconnecting').catch(() => adopter.end(true));
      }
    },
  };
}
