// The embedded MQTT broker (aedes) with every hook overridden: aedes allows
// everything by default, so nothing here is left at its default.
//
// A node connects with client id = username = its node id and its node
// credential as password. It may publish only under mf/v1/nodes/{its id}/ and
// subscribe only to its own commands. The manager talks to the broker
// in-process through subscribe()/publish() below.
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import { isValidNodeId, mayPublish, maySubscribe } from './mqtt-topics.ts';
import { listenForStorm, type StormListener } from './storm-listener.ts';

export type BrokerEvent =
  | { type: 'auth-failed'; clientId: string; reason: string }
  | { type: 'publish-denied'; nodeId: string; topic: string; reason: string }
  | { type: 'subscribe-denied'; nodeId: string; topic: string }
  | { type: 'client-error'; clientId: string; message: string };

export interface BrokerOptions {
  /** Checks a node's credential; resolves false for an unknown node or a wrong secret. */
  authenticateNode: (nodeId: string, secret: string) => Promise<boolean>;
  /** Larger publishes are refused (the connection is closed). */
  maxPayloadBytes: number;
  /** The broker never logs; the app decides what to do with these. */
  onEvent?: (event: BrokerEvent) => void;
}

export interface BrokerMessage {
  topic: string;
  payload: Buffer;
}

export interface NodeBroker {
  /** Plain TCP, or TLS when a key and certificate chain are given. */
  listen(port: number, host: string, tls?: { keyPem: string; chainPem: string }): Promise<AddressInfo>;
  /** In-process subscription (the manager's side); the handler's errors are reported as client-error events. */
  subscribe(filter: string, handler: (message: BrokerMessage) => Promise<void> | void): Promise<void>;
  publish(topic: string, payload: Uint8Array, options: { qos: 0 | 1; retain: boolean }): Promise<void>;
  connectedClients(): number;
  close(): Promise<void>;
}

const badCredentials = 4; // CONNACK return code "bad user name or password"

function authError(message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: badCredentials });
}

export async function createNodeBroker(options: BrokerOptions): Promise<NodeBroker> {
  const emit = options.onEvent ?? ((_event: BrokerEvent) => undefined);
  // The node id each client proved with its credential; set only by authenticate.
  const nodeIds = new WeakMap<Client, string>();

  const aedes = await Aedes.createBroker({
    preConnect: (_client, _packet, done) => done(null, true),

    authenticate: (client, username, password, done) => {
      const nodeId = username ?? '';
      const deny = (reason: string) => {
        emit({ type: 'auth-failed', clientId: client.id, reason });
        done(authError(reason), false);
      };
      if (!isValidNodeId(nodeId) || !password) return deny('missing or malformed node id or credential');
      if (client.id !== nodeId) return deny('client id must equal the node id');
      options.authenticateNode(nodeId, password.toString('utf8')).then(
        (ok) => {
          if (!ok) return deny('unknown node or wrong credential');
          nodeIds.set(client, nodeId);
          done(null, true);
        },
        (error: unknown) => deny(`credential check failed: ${String(error)}`),
      );
    },

    authorizePublish: (client, packet, done) => {
      if (client === null) return done(null); // the manager's own in-process publish
      const nodeId = nodeIds.get(client) ?? '';
      const reason = !mayPublish(nodeId, packet.topic)
        ? 'topic outside the node\'s own publish topics'
        : packet.payload.length > options.maxPayloadBytes
          ? `payload of ${packet.payload.length} bytes exceeds ${options.maxPayloadBytes}`
          : null;
      if (reason) {
        emit({ type: 'publish-denied', nodeId, topic: packet.topic, reason });
        return done(new Error(reason));
      }
      // A node's retained message (its status, its last will) is delivered but not kept: only the
      // manager may read node topics, and it reads them live and keeps presence in its store. Kept,
      // they would cost memory per node and, worse, a scan of every one of them at each SUBSCRIBE
      // (aedes tests each retained topic against a new subscription): a power-on storm of N nodes
      // would cost N² topic matches, and the last nodes of 5,000 waited a minute for their SUBACK.
      packet.retain = false;
      done(null);
    },

    authorizeSubscribe: (client, subscription, done) => {
      const nodeId = nodeIds.get(client) ?? '';
      if (!maySubscribe(nodeId, subscription.topic)) {
        emit({ type: 'subscribe-denied', nodeId, topic: subscription.topic });
        return done(null, null); // SUBACK 0x80: refused, connection kept
      }
      done(null, subscription);
    },

    // Defence in depth: even with a subscription in place, a node receives only its own commands.
    authorizeForward: (client, packet) => {
      const nodeId = nodeIds.get(client);
      return nodeId !== undefined && maySubscribe(nodeId, packet.topic) ? packet : null;
    },

    published: (_packet, _client, done) => done(null),
  });

  aedes.on('clientError', (client, error) => emit({ type: 'client-error', clientId: client.id, message: error.message }));

  let listener: StormListener | null = null;

  return {
    async listen(port, host, tls) {
      const tlsServer = tls ? createTlsServer({ key: tls.keyPem, cert: tls.chainPem }, aedes.handle) : null;
      // A TLS server takes over sockets accepted elsewhere through its 'connection' event.
      listener = await listenForStorm({ port, host }, (socket) => (tlsServer ? tlsServer.emit('connection', socket) : aedes.handle(socket)));
      return listener.address;
    },

    subscribe: (filter, handler) =>
      new Promise((resolve) => {
        aedes.subscribe(
          filter,
          (packet: PublishPacket, callback: () => void) => {
            const failed = (error: unknown) => emit({ type: 'client-error', clientId: '(manager)', message: String(error) });
            try {
              const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
              const done = handler({ topic: packet.topic, payload });
              // Most messages finish synchronously: no promise chain per message unless the handler awaits.
              if (done instanceof Promise) done.catch(failed).finally(callback);
              else callback();
            } catch (error) {
              failed(error);
              callback();
            }
          },
          () => resolve(),
        );
      }),

    publish: (topic, payload, { qos, retain }) =>
      new Promise((resolve, reject) => {
        aedes.publish(
          { cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain, dup: false },
          (error?: Error | null) => (error ? reject(error) : resolve()),
        );
      }),

    connectedClients: () => aedes.connectedClients,

    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await listener?.close();
    },
  };
}
