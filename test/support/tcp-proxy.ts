// A TCP proxy between an agent and the manager that can lose a reply: before
// each chunk the server sends back, it asks `cut`; true drops the connection
// instead of forwarding the chunk, as a network or a middlebox would. It reads
// no bytes (TLS passes through untouched), so a test decides from outside
// (e.g. "the node is written") when a reply is on its way.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface TcpProxy {
  /** host:port to give the client. */
  address: string;
  /** Connections dropped by `cut`. */
  cuts: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }, cut: () => Promise<boolean>): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const proxy: TcpProxy = { address: '', cuts: 0, close: async () => undefined };
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk) => upstream.write(chunk));
    client.on('close', drop);
    // Replies in order, each only after `cut` said no.
    let replies = Promise.resolve();
    upstream.on('data', (chunk) => {
      replies = replies.then(async () => {
        if (client.destroyed) return;
        if (await cut()) {
          proxy.cuts += 1;
          drop();
        } else {
          client.write(chunk);
        }
      });
    });
    upstream.on('close', () => void replies.then(() => client.end()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () => new Promise((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  });
  return proxy;
}
