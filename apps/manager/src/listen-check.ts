// The manager's listeners and what goes wrong opening them, said in one line
// that names the option to change (`--grpc-port 7471: address 127.0.0.1:7471 is
// already in use`), not as a stack trace.
//
// Every port is tried before anything is written to the data directory. The
// gRPC and MQTT listeners share their port between sockets (SO_REUSEPORT, see
// libs/transport storm-listener.ts), and such a socket can join a port another
// process of the same user already listens on the same way: a second manager
// would split the nodes' connections with the first instead of failing. A plain
// socket cannot join, so the check binds one.
import { createServer } from 'node:net';

/** A listener that could not be opened; `message` is what the operator reads. */
export class ListenError extends Error {
  readonly code = 'listen-failed';

  constructor(message: string) {
    super(message);
    this.name = 'ListenError';
  }
}

export interface ListenerPort {
  /** The option that sets the port, e.g. --grpc-port. */
  option: string;
  port: number;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The one-line explanation of a failed listen, or null when it is not about the address. */
export function listenProblem(listener: ListenerPort, host: string, error: unknown): ListenError | null {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const { option, port } = listener;
  switch (code) {
    case 'EADDRINUSE':
      return new ListenError(`${option} ${port}: address ${hostPort(host, port)} is already in use`);
    case 'EACCES':
      return new ListenError(`${option} ${port}: not allowed to listen on ${hostPort(host, port)} (ports below 1024 need root or CAP_NET_BIND_SERVICE)`);
    case 'EADDRNOTAVAIL':
      return new ListenError(`--listen-host ${host}: not an address of this machine`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ListenError(`--listen-host ${host}: the name does not resolve`);
    default:
      return null;
  }
}

/** Runs `listen`, turning an address problem into a ListenError that names the option. */
export async function listenAs<T>(listener: ListenerPort, host: string, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (error) {
    throw listenProblem(listener, host, error) ?? error;
  }
}

/** Throws ListenError for the first port (other than 0, any free port) that cannot be listened on now. */
export async function checkListenable(host: string, listeners: readonly ListenerPort[]): Promise<void> {
  for (const listener of listeners) {
    if (listener.port === 0) continue;
    await listenAs(listener, host, () => new Promise<void>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen({ port: listener.port, host, exclusive: true }, () => server.close(() => resolve()));
    }));
  }
}

/** What the `manager ready` line says about who can reach the manager at `host`. */
export function listeningOn(host: string): string {
  if (host === 'localhost' || host === '::1' || host.startsWith('127.')) return `${host}: this machine only (--listen-host 0.0.0.0 to serve nodes and operators elsewhere)`;
  if (host === '0.0.0.0' || host === '::') return `${host}: every address of this machine`;
  return host;
}
