// Listening for a power-on storm: thousands of nodes connecting at once while
// the ones already up keep reporting.
//
// libuv accepts one connection per listening socket per event-loop turn
// (libuv PR #3696). With thousands of nodes publishing, a turn takes tens of
// milliseconds, so a single socket admits a few dozen nodes a second; the
// rest time out and retry, and the retries make it worse. Several sockets on
// the same port (SO_REUSEPORT: the kernel spreads new connections over them,
// and only sockets of this same user may join) multiply the accept rate.
//
// The listeners with admission control (MQTT, and gRPC over TLS) keep their
// accept queues short on purpose (gatedBacklog). A connection in the kernel's
// accept queue is established for its client, whose connect timeout runs, but
// invisible to the manager's admission control; with a deep backlog (4096 a
// socket) a 5,000-node storm measured 2,000 to 6,500 MQTT connections waiting
// there while the admission queue was empty, and a 10,000-node registration
// storm ~10,000 gRPC connections, most of them given up by their clients
// before the manager took them: it then spent its turns accepting and closing
// peers that had left, and registrations stopped at 1,272. A full accept queue
// drops new SYNs instead, which costs the manager nothing and makes the
// client's TCP retry later. (An earlier run with a short gRPC queue stalled at
// a third of the fleet: its simulated nodes shared one gRPC connection per
// process, whose reconnect backoff grew to grpc-js's 120 s; each node now dials
// on its own, with the agent's backoff.)
import { constants } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import { ServerCredentials, type Server as GrpcServer } from '@grpc/grpc-js';
import { createConnectGate, type ConnectGate } from './connect-gate.ts';
import { createUnauthenticatedLimiter } from './connection-limits.ts';
import { awaitFirstMessage, tlsHelloRecord } from './first-message.ts';
import { serverHandshakeSent, serverTlsOptions } from './tls-policy.ts';

/** Accept queue of each listening socket with admission control (MQTT, gRPC over TLS): short, so that waiting connections are where admission control sees them (above). */
export const gatedBacklog = 128;

export interface StormListener {
  address: AddressInfo;
  /** Stops accepting. Accepted connections belong to whoever took them (broker, gRPC server), which closes them. */
  close(): Promise<void>;
  /** Whether a socket still listens (for /readyz). */
  listening(): boolean;
}

export interface StormListenerOptions {
  port: number;
  host: string;
  /** Listening sockets sharing the port (default 16). */
  sockets?: number;
  /** Accept queue of each socket (default 4096; see above). */
  backlog?: number;
}

export async function listenForStorm(options: StormListenerOptions, onConnection: (socket: Socket) => void): Promise<StormListener> {
  const servers: Server[] = [];
  const listenOne = (port: number) =>
    new Promise<AddressInfo>((resolve, reject) => {
      const server = createServer((socket) => {
        // A peer may reset its connection at any moment, also while it waits for its turn, with nothing of
        // ours listening yet: an 'error' with no listener would end the process. The 'close' that follows an
        // error is what frees the connection's place (admission, limits), so nothing else is needed here.
        socket.on('error', () => undefined);
        onConnection(socket);
      });
      servers.push(server);
      server.once('error', reject);
      server.listen({ port, host: options.host, backlog: options.backlog ?? 4096, reusePort: true }, () => resolve(server.address() as AddressInfo));
    });
  const close = async () => {
    for (const server of servers) server.close();
    await new Promise((resolve) => setImmediate(resolve)); // the listening handles close on the next turn
  };
  try {
    const address = await listenOne(options.port);
    for (let i = 1; i < (options.sockets ?? 16); i += 1) await listenOne(address.port);
    return { address, close, listening: () => servers.some((server) => server.listening) };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A gRPC server on storm listeners: grpc-js takes the accepted sockets through its connection injector. */
export function listenGrpcForStorm(server: GrpcServer, credentials: ServerCredentials, options: StormListenerOptions): Promise<StormListener> {
  const injector = server.createConnectionInjector(credentials);
  return listenForStorm(options, (socket) => injector.injectConnection(socket));
}

export interface GatedGrpcTlsOptions {
  keyPem: string;
  chainPem: string;
  /** TLS handshakes at once (0: no limit); the rest wait their turn, untouched. */
  maxConcurrentHandshakes: number;
  /** Longest wait for a turn; then the connection is closed before any TLS work. */
  maxWaitMs: number;
  /** A handshake not done by then is given up (default 10 s). */
  handshakeTimeoutMs?: number;
  /**
   * Connections not yet handed to gRPC (waiting for their hello or their turn, or in their handshake),
   * all addresses together; beyond, a new one is closed at once (default 10,000; 0: no limit). Without
   * it one client could hold tens of thousands of sockets, each with its buffered hello (hostile review).
   */
  maxPending?: number;
  /**
   * The CA whose client certificates identify nodes (--node-certificates): each client is asked for one, and one
   * that chains to it reaches the handlers (CallContext.peerCertificate). A client without one still connects.
   */
  clientCaPem?: string;
}

/**
 * A gRPC server over TLS on storm listeners, with the TLS handshakes done here, at most
 * `maxConcurrentHandshakes` at once (the connect gate), and the secured connections handed to
 * grpc-js as they are ready. grpc-js's own TLS would start every accepted connection's handshake
 * at once, and in a power-on storm none would finish before its agent gave up.
 */
export async function listenGrpcTlsForStorm(server: GrpcServer, tls: GatedGrpcTlsOptions, options: StormListenerOptions): Promise<StormListener & { gate: ConnectGate }> {
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const context = createSecureContext({
    ...serverTlsOptions(tls.keyPem, tls.chainPem), secureOptions: constants.SSL_OP_CIPHER_SERVER_PREFERENCE,
    // With client certificates asked for, OpenSSL refuses a resumed session that has no id context (a fatal alert).
    ...(tls.clientCaPem ? { ca: tls.clientCaPem, sessionIdContext: 'metalfleet-grpc' } : {}),
  });
  // A client certificate is asked for, never required (a node registers before it has one); whether it verified is
  // the socket's `authorized`, which grpc-js reads for the call's auth context.
  const clientCertificates = tls.clientCaPem ? { requestCert: true, rejectUnauthorized: false } : { requestCert: false };
  const gate = createConnectGate({ concurrent: tls.maxConcurrentHandshakes, maxWaiting: Number.POSITIVE_INFINITY, maxWaitMs: tls.maxWaitMs });
  const pending = createUnauthenticatedLimiter(tls.maxPending ?? 10_000);
  const enterGate = (socket: Socket, handedOn: () => void) => {
    let done: () => void = () => undefined;
    done = gate.enter(socket, () => {
      // gRPC clients insist on HTTP/2 negotiated by ALPN.
      const secure = new TLSSocket(socket, { isServer: true, secureContext: context, ALPNProtocols: ['h2'], ...clientCertificates });
      const timer = setTimeout(() => secure.destroy(), tls.handshakeTimeoutMs ?? 10_000);
      timer.unref();
      // The turn bounds the manager's work, not the client's: in TLS 1.3 the server's part (key agreement,
      // signature, its Finished) is done when it derives its application secret, and the rest is waiting for the
      // client's Finished. Held until then, the turns went to clients too slow to answer (a starved simulator, a
      // slow network, a peer that stalls on purpose), and a storm crawled with the manager idle.
      secure.on('keylog', (line: Buffer) => {
        if (serverHandshakeSent(line)) done();
      });
      // Whatever the version, the server has answered the client's hello by the next check phase: the hello is buffered
      // whole (first-message.ts), and the TLS socket processes it in the tick after it is made. What is left waits on
      // the client (TLS 1.2: its key exchange, one ECDH; after a HelloRetryRequest, its second hello) and holds no turn:
      // held until the handshake was done, a peer stalling a TLS 1.2 handshake on purpose, or answering a retry
      // request never, kept each of its turns for the 10 s handshake timeout (hostile review).
      setImmediate(() => done());
      secure.once('secure', () => {
        clearTimeout(timer);
        done();
        handedOn();
        // What node's TLS server does before it hands a socket on ('secureConnection'); http2 waits
        // for a 'secureConnect' that a server-side socket never emits while secureConnecting is set.
        const internals = secure as TLSSocket & { secureConnecting?: boolean; _releaseControl?: () => boolean; _handle?: { verifyError?: () => Error | null } };
        // Also what it does with a client certificate asked for (onServerSocketSecure): whether it chains to the CA.
        if (tls.clientCaPem) {
          // Closed, not trusted, should a later Node no longer have it.
          if (typeof internals._handle?.verifyError !== 'function') return secure.destroy();
          const verifyError = internals._handle.verifyError() as (Error & { code?: string }) | null;
          if (verifyError) secure.authorizationError = Object.assign(verifyError, { message: verifyError.code ?? verifyError.message });
          else secure.authorized = true;
        }
        internals.secureConnecting = false;
        internals._releaseControl?.();
        injector.injectConnection(secure);
      });
      // A client that fails its handshake (or offers no suite of the policy) is its own problem.
      secure.once('error', () => secure.destroy());
      secure.once('close', () => {
        clearTimeout(timer);
        done();
      });
    });
  };
  const listener = await listenForStorm({ ...options, backlog: options.backlog ?? gatedBacklog }, (socket) => {
    // Counted until its handshake is done (or it closes).
    const handedOn = pending.admit(socket);
    if (!handedOn) return gate.refuse(socket, 'queue-full');
    // No turn until the client's hello has come whole (first-message.ts).
    awaitFirstMessage(socket, tlsHelloRecord, tls.maxWaitMs, () => enterGate(socket, handedOn), () => gate.refuse(socket, 'no-first-message'));
  });
  return { ...listener, gate };
}
