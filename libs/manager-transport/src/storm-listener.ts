// Listening for a power-on storm: thousands of nodes connecting at once while
// the ones already up keep reporting.
//
// libuv accepts one connection per listening socket per event-loop turn
// (libuv PR #3696). With thousands of nodes publishing, a turn takes tens of
// milliseconds, so a single socket admits a few dozen nodes a second; the
// rest time out and retry, and the retries make it worse. Several sockets on
// the same port (SO_REUSEPORT: the kernel spreads new connections over them,
// and only sockets of this same user may join) multiply the accept rate, and a
// deep backlog keeps waiting connections instead of dropping their SYNs.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Server as GrpcServer, ServerCredentials } from '@grpc/grpc-js';

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
  /** Listening sockets sharing the port. */
  sockets?: number;
  backlog?: number;
}

export async function listenForStorm(options: StormListenerOptions, onConnection: (socket: Socket) => void): Promise<StormListener> {
  const servers: Server[] = [];
  const listenOne = (port: number) =>
    new Promise<AddressInfo>((resolve, reject) => {
      const server = createServer(onConnection);
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
    for (let i = 1; i < (options.sockets ?? 8); i += 1) await listenOne(address.port);
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
