// A TCP proxy that passes replies on at a set rate, so a test can catch a
// download in the middle: it counts the bytes each connection got, and keeps
// the first bytes of each request (plain HTTP: the request line and headers).
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface SlowProxy {
  /** host:port to give the client. */
  address: string;
  /** One entry per connection: the start of the request, reply bytes passed on, whether it is still open. */
  connections: Array<{ request: string; bytes: number; open: boolean }>;
  /** Reply bytes passed on over all connections. */
  readonly bytes: number;
  close(): Promise<void>;
}

export async function startSlowProxy(target: { host: string; port: number }, bytesPerSecond: number): Promise<SlowProxy> {
  const sockets = new Set<Socket>();
  const connections: SlowProxy['connections'] = [];
  const server = createServer((client) => {
    const entry = { request: '', bytes: 0, open: true };
    connections.push(entry);
    const upstream = connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        entry.open = false;
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      if (entry.request.length < 2048) entry.request += chunk.toString('latin1').slice(0, 2048);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      entry.bytes += chunk.length;
      client.write(chunk);
      upstream.pause();
      setTimeout(() => upstream.resume(), (chunk.length / bytesPerSecond) * 1000);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections,
    get bytes() {
      return connections.reduce((sum, c) => sum + c.bytes, 0);
    },
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
