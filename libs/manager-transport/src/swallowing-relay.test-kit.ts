// For tests of the admission gates: a TCP relay to a listener that passes the
// client's bytes on and swallows the server's, as a client too slow to answer
// its part of a TLS handshake would look to the server.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export async function swallowingRelay(port: number): Promise<{ port: number; swallowed: () => number; close: () => void }> {
  let swallowed = 0;
  const sockets: Socket[] = [];
  const relay = createServer((client) => {
    const upstream = connect({ port, host: '127.0.0.1' });
    sockets.push(client, upstream);
    for (const s of [client, upstream]) s.on('error', () => undefined);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => (swallowed += chunk.length));
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    port: (relay.address() as AddressInfo).port,
    swallowed: () => swallowed,
    close: () => {
      for (const s of sockets) s.destroy();
      relay.close();
    },
  };
}
