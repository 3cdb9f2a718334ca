// The embedded MQTT broker (aedes) with every hook overridden: aedes allows
// everything by default, so nothing here is left at its default.
//
// A node connects with client id = username = its node id and its node
// credential as password, or over TLS with its client certificate instead of
// the password (--node-certificates). It may publish only under mf/v1/nodes/{its id}/ and
// subscribe only to its own commands. The manager talks to the broker
// in-process through subscribe()/publish() below.
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, TLSSocket } from 'node:tls';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import { isValidNodeId, mayPublish, maySubscribe } from '@metalfleet/transport';
import { createConnectGate, type ShedReason } from './connect-gate.ts';
import { awaitFirstMessage, mqttConnectPacket, tlsHelloRecord } from './first-message.ts';
import { createConnectionLimiter, createUnauthenticatedLimiter } from './connection-limits.ts';
import { guardMqttFrames, type FrameGuard } from './mqtt-frame-guard.ts';
import { gatedBacklog, listenForStorm, type StormListener } from './storm-listener.ts';
import { serverHandshakeSent, serverTlsOptions } from './tls-policy.ts';
import { createStoredBeforeAck } from './stored-before-ack.ts';

export type BrokerEvent =
  | { type: 'auth-failed'; clientId: string; reason: string }
  | { type: 'publish-denied'; nodeId: string; topic: string; reason: string }
  | { type: 'subscribe-denied'; nodeId: string; topic: string }
  | { type: 'client-error'; clientId: string; message: string }
  | { type: 'packet-too-large'; clientId: string; address: string; announced: number; limit: number; authenticated: boolean }
  | { type: 'connection-refused'; address: string; reason: string }
  /** Closed unread by admission control (too many connections being set up): counted, not worth a log line each. */
  | { type: 'connection-shed'; address: string; reason: ShedReason }
  /** A message to a node that mayForward refused (a withdrawn command): not sent, and gone from the node's session. */
  | { type: 'forward-withheld'; nodeId: string; topic: string };

export interface BrokerOptions {
  /** Checks a node's credential; resolves false for an unknown node or a wrong secret. */
  authenticateNode: (nodeId: string, secret: string) => Promise<boolean>;
  /**
   * The node a client certificate names (one that chained to the client CA given to listen): null for one revoked,
   * expired or not issued to a node. A connection that presents a certificate is judged by it alone, never by a password.
   */
  authenticateCertificate?: (certificate: { commonName: string; serial: string }) => Promise<string | null>;
  /** Larger publishes are refused (the connection is closed); a packet announcing more than this plus room for its topic is cut before it is buffered. */
  maxPayloadBytes: number;
  /** Largest packet a connection may announce before its CONNECT is authenticated (default 8 KiB: a CONNECT is small). */
  maxUnauthenticatedPacketBytes?: number;
  /** Concurrent connections from one source address (default 1024; 0: no limit). */
  maxConnectionsPerAddress?: number;
  /** Concurrent connections that have not authenticated yet, all addresses together (default 10,000; 0: no limit). */
  maxUnauthenticatedConnections?: number;
  /** Connections set up at once: TLS handshake, CONNECT and credential check (default 64; 0: no limit). Others wait their turn. */
  maxConcurrentConnects?: number;
  /** Longest a connection waits for its turn to be set up before it is closed unread (default 10 s, below the agents' 30 s connect timeout). */
  maxConnectWaitMs?: number;
  /** How long a connection may take to send its CONNECT once its TLS handshake is done (default 10 s). */
  connectTimeoutMs?: number;
  /** The broker never logs; the app decides what to do with these. */
  onEvent?: (event: BrokerEvent) => void;
  /**
   * Whether a message to a node may still go out (default: all may). Asked for each delivery, queued ones
   * included: one refused when a node reconnects is also removed from the node's persistent session.
   */
  mayForward?: (topic: string, payload: Buffer) => boolean;
}

export interface BrokerMessage {
  topic: string;
  payload: Buffer;
}

export interface NodeBroker {
  /** Plain TCP, or TLS when a key and certificate chain are given; with a client CA, nodes may show certificates it signed. */
  listen(port: number, host: string, tls?: { keyPem: string; chainPem: string; clientCaPem?: string }): Promise<AddressInfo>;
  /**
   * In-process subscription (the manager's side). A node's QoS 1 publish is acknowledged only after the handler
   * finished: one that throws (a store write failed) gets no PUBACK, its connection is closed and the node sends it
   * again (stored-before-ack.ts); the error is reported as a client-error event.
   */
  subscribe(filter: string, handler: (message: BrokerMessage) => Promise<void> | void): Promise<void>;
  publish(topic: string, payload: Uint8Array, options: { qos: 0 | 1; retain: boolean }): Promise<void>;
  connectedClients(): number;
  /** Admission control now: connections being set up, waiting for their turn, and closed unread so far. */
  admission(): { connecting: number; waiting: number; shed: number };
  /** Whether it listens and has not been closed (for /readyz). */
  listening(): boolean;
  /**
   * Why nodes' reports would not be kept yet, or null once they would. A NATS cluster keeps a QoS 1 publish only for
   * consumers that exist when it arrives (the stream's retention is by interest): what a node sends before the
   * replicas' consumers are set up is acknowledged to the node and dropped, so nodes are not registered until then.
   * Brokers that hold messages for the manager's subscription from the start leave this out.
   */
  reportsWaiting?(): string | null;
  /**
   * Embedded broker only: closes the node's connection (its certificate was revoked; a tenant holding a copy of it
   * connected before keeps nothing). An external broker checks revocations at each connection only.
   */
  disconnectNode?(nodeId: string): void;
  close(): Promise<void>;
  /**
   * External broker only: takes over the session of a manager replica that died (its client id), handles what the
   * broker kept for it (messages queued, or delivered and never acknowledged), then ends that session. Resolves with
   * how many messages it handled.
   */
  adoptSession?(clientId: string): Promise<number>;
}

const badCredentials = 4; // CONNACK return code "bad user name or password"
// "Server unavailable": the check itself failed (the store away). Not a refusal: the node connects again later,
// where "bad credentials" makes an agent register again and ask for a new certificate.
const serverUnavailable = 3;
// Room for the fixed and variable headers of a PUBLISH around its payload: topic, packet id, MQTT 5 properties.
const publishOverheadBytes = 4096;
export const defaultMaxUnauthenticatedPacketBytes = 8192;
export const defaultMaxConnectionsPerAddress = 1024;
// Twice a 5,000-node power-on storm; each waiting connection costs about 64 KiB (TLS and parser state).
export const defaultMaxUnauthenticatedConnections = 10_000;
// A TLS handshake costs the manager a few milliseconds of CPU: 64 at once keep the event loop busy
// without sharing it so thinly that none finishes before its client gives up.
export const defaultMaxConcurrentConnects = 64;
export const defaultMaxConnectWaitMs = 10_000;
// The TLS handshake of an idle or hostile client is given up after this (node's default is 120 s).
const tlsHandshakeTimeoutMs = 30_000;

/** The client certificate a TLS connection showed, when it chained to the client CA (the TLS server's `authorized`). */
function verifiedPeerCertificate(conn: Duplex): { commonName: string; serial: string } | null {
  if (!(conn instanceof TLSSocket) || !conn.authorized) return null;
  const certificate = conn.getPeerCertificate();
  const commonName = certificate.subject?.CN;
  return typeof commonName === 'string' && certificate.serialNumber ? { commonName, serial: certificate.serialNumber.toLowerCase() } : null;
}

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode });
}

export async function createNodeBroker(options: BrokerOptions): Promise<NodeBroker> {
  const emit = options.onEvent ?? ((_event: BrokerEvent) => undefined);
  // The node id each client proved with its credential; set only by authenticate.
  const nodeIds = new WeakMap<Client, string>();
  // Per connection: its size guard, raised to the payload limit once the node is authenticated,
  // and what takes it off the count of unauthenticated connections.
  const connections = new WeakMap<Duplex, { guard: FrameGuard; authenticated: () => void }>();
  const authenticatedLimit = options.maxPayloadBytes + publishOverheadBytes;
  const reports = createStoredBeforeAck((client, topic, error) =>
    emit({ type: 'client-error', clientId: client.id, message: `publish on ${topic} not stored, not acknowledged: ${String(error)}` }));

  const aedes = await Aedes.createBroker({
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    preConnect: (_client, _packet, done) => done(null, true),

    authenticate: (client, username, password, done) => {
      const nodeId = username ?? '';
      const deny = (reason: string, returnCode = badCredentials) => {
        emit({ type: 'auth-failed', clientId: client.id, reason });
        done(authError(reason, returnCode), false);
      };
      const accept = () => {
        nodeIds.set(client, nodeId);
        const connection = connections.get(client.conn);
        connection?.guard.raise(authenticatedLimit);
        connection?.authenticated();
        done(null, true);
      };
      const certificate = options.authenticateCertificate ? verifiedPeerCertificate(client.conn) : null;
      if (!isValidNodeId(nodeId) || (!password && !certificate)) return deny('missing or malformed node id or credential');
      if (client.id !== nodeId) return deny('client id must equal the node id');
      if (certificate && options.authenticateCertificate) {
        options.authenticateCertificate(certificate).then(
          (named) => {
            if (named === null) return deny('client certificate revoked, expired or not issued to a node');
            if (named !== nodeId) return deny(`the client certificate is node ${named}'s`);
            accept();
          },
          (error: unknown) => deny(`certificate check failed: ${String(error)}`, serverUnavailable),
        );
        return;
      }
      if (!password) return deny('missing or malformed node id or credential');
      options.authenticateNode(nodeId, password.toString('utf8')).then(
        (ok) => (ok ? accept() : deny('unknown node or wrong credential')),
        (error: unknown) => deny(`credential check failed: ${String(error)}`, serverUnavailable),
      );
    },

    authorizePublish: (client, packet, done) => {
      if (client === null) return done(null); // the manager's own in-process publish
      const nodeId = nodeIds.get(client) ?? '';
      // aedes keeps every QoS 2 publish in its persistence until the client sends PUBREL, per
      // persistent session and across reconnects (its in-flight cap restarts with each connection):
      // a node that never released them grew the manager's memory without limit. Nodes publish at
      // QoS 0 (telemetry) and 1 (the rest), so QoS 2 is refused before aedes stores anything.
      const reason = packet.qos === 2
        ? 'QoS 2 is not accepted from nodes (QoS 0 or 1 only)'
        : !mayPublish(nodeId, packet.topic)
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
      reports.beforeAck(client, packet, done);
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
      if (nodeId === undefined || !maySubscribe(nodeId, packet.topic)) return null;
      // A withdrawn command: aedes drops it from the session instead of sending it.
      if (options.mayForward && !options.mayForward(packet.topic, typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload)) {
        emit({ type: 'forward-withheld', nodeId, topic: packet.topic });
        return null;
      }
      return packet;
    },

    published: (_packet, _client, done) => done(null),
  });

  aedes.on('clientError', (client, error) => emit({ type: 'client-error', clientId: client.id, message: error.message }));

  let listener: StormListener | null = null;
  const limiter = createConnectionLimiter(options.maxConnectionsPerAddress ?? defaultMaxConnectionsPerAddress);
  const unauthenticated = createUnauthenticatedLimiter(options.maxUnauthenticatedConnections ?? defaultMaxUnauthenticatedConnections);
  // An accepted raw socket's slot among the unauthenticated, by peer: a TLS server hands on a new
  // socket object wrapping the raw one, with the same peer address and port.
  const unauthenticatedSlots = new Map<string, () => void>();
  // A connection's key: its whole TCP 4-tuple. The peer's address and port alone are not unique: one client can
  // hold two connections from one port to two of the manager's addresses (SO_REUSEADDR), and one would take the
  // other's turn and slot (hostile review).
  const peer = (conn: { remoteAddress?: string; remotePort?: number; localAddress?: string; localPort?: number }) =>
    `${conn.remoteAddress ?? ''}|${conn.remotePort ?? ''}|${conn.localAddress ?? ''}|${conn.localPort ?? ''}`;
  const preAuthLimit = options.maxUnauthenticatedPacketBytes ?? defaultMaxUnauthenticatedPacketBytes;
  const firstMessageWaitMs = options.maxConnectWaitMs ?? defaultMaxConnectWaitMs;
  // Waiting connections are counted among the unauthenticated too: that cap bounds the queue.
  const gate = createConnectGate({
    concurrent: options.maxConcurrentConnects ?? defaultMaxConcurrentConnects,
    maxWaiting: Number.POSITIVE_INFINITY,
    maxWaitMs: options.maxConnectWaitMs ?? defaultMaxConnectWaitMs,
    onShed: (socket, reason) => emit({ type: 'connection-shed', address: socket.remoteAddress ?? '', reason }),
  });

  // Every connection reaches aedes through the size guard; `address` is the raw socket's peer.
  const handle = (conn: Duplex, address: string) => {
    const guard = guardMqttFrames(conn, preAuthLimit, (violation) => {
      const client = (conn as Duplex & { client?: Client }).client;
      const authenticated = client !== undefined && nodeIds.has(client);
      emit({ type: 'packet-too-large', clientId: client?.id ?? '', address, ...violation, authenticated });
    });
    connections.set(conn, { guard, authenticated: unauthenticatedSlots.get(peer(conn as Duplex & Socket)) ?? (() => undefined) });
    aedes.handle(conn);
  };

  return {
    async listen(port, host, tls) {
      const tlsServer = tls
        ? createTlsServer({
          ...serverTlsOptions(tls.keyPem, tls.chainPem), handshakeTimeout: tlsHandshakeTimeoutMs,
          // Asked for, never required: a node shows its password when it has no certificate yet.
          ...(tls.clientCaPem ? { ca: tls.clientCaPem, requestCert: true, rejectUnauthorized: false } : {}),
        }, (conn) => {
          // The certificate checked at CONNECT is the one of the handshake: no renegotiation may swap it after.
          conn.disableRenegotiation();
          handle(conn, conn.remoteAddress ?? '');
        })
        : null;
      // TLS errors of clients that never finish a handshake (or offer no suite of the policy) are theirs, not the broker's.
      tlsServer?.on('tlsClientError', () => undefined);
      // Over TLS 1.3 a connection's turn ends once the server's part of the handshake is sent: the rest (the
      // client's Finished, its CONNECT, the credential check) waits on the client or costs little, and turns held
      // by clients too slow to answer left a storm crawling with the manager idle. Found by the peer's address.
      const turns = new Map<string, () => void>();
      tlsServer?.on('keylog', (line: Buffer, tlsSocket: Socket) => {
        if (!serverHandshakeSent(line)) return;
        const key = peer(tlsSocket);
        const turn = turns.get(key);
        turns.delete(key);
        turn?.();
      });
      const accept = (socket: Socket) => {
        const refuse = (reason: string) => {
          emit({ type: 'connection-refused', address: socket.remoteAddress ?? '', reason });
          socket.destroy();
        };
        if (!limiter.admit(socket)) return refuse('too many connections from this address');
        const slot = unauthenticated.admit(socket);
        if (!slot) return refuse('too many connections not yet authenticated');
        const key = peer(socket);
        // Its turn among the connections being set up ends, as its unauthenticated slot does, when its CONNECT is accepted.
        let turn: () => void = () => undefined;
        const authenticated = () => {
          slot();
          turn();
        };
        unauthenticatedSlots.set(key, authenticated);
        socket.once('close', () => {
          if (unauthenticatedSlots.get(key) === authenticated) unauthenticatedSlots.delete(key);
        });
        const enterGate = () => {
          turn = gate.enter(socket, () => {
            if (!tlsServer) return handle(socket, socket.remoteAddress ?? '');
            // A TLS server takes over sockets accepted elsewhere through its 'connection' event. Whatever the TLS
            // version, the server has answered the hello by the next check phase, and the turn ends then at the
            // latest (storm-listener.ts): a TLS 1.2 handshake stalled on purpose held it until authenticated.
            tlsServer.emit('connection', socket);
            setImmediate(() => turn());
          });
          if (tlsServer) {
            const mine = turn;
            turns.set(key, mine);
            socket.once('close', () => {
              if (turns.get(key) === mine) turns.delete(key);
            });
          }
        };
        // No turn until the client's hello (or plain CONNECT) has come whole (first-message.ts).
        awaitFirstMessage(socket, tlsServer ? tlsHelloRecord : mqttConnectPacket(preAuthLimit), firstMessageWaitMs, enterGate, () => gate.refuse(socket, 'no-first-message'));
      };
      listener = await listenForStorm({ port, host, backlog: gatedBacklog }, accept);
      return listener.address;
    },

    subscribe: (filter, handler) =>
      new Promise((resolve) => {
        reports.add(filter, handler);
        aedes.subscribe(
          filter,
          (packet: PublishPacket, callback: () => void) => {
            if (Buffer.isBuffer(packet.payload) && reports.alreadyHandled(packet.payload)) return callback();
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
    admission: () => ({ connecting: gate.active(), waiting: gate.waiting(), shed: gate.shed() }),

    listening: () => !aedes.closed && (listener?.listening() ?? false),

    disconnectNode: (nodeId) => {
      // aedes keeps its connected clients by client id, which is the node id (authenticate), but does not type it.
      const { clients } = aedes as unknown as { clients: Record<string, Client | undefined> };
      clients[nodeId]?.close();
    },

    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await listener?.close();
    },
  };
}
