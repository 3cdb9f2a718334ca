import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { listenForStorm, type StormListener } from './storm-listener.ts';

const open: StormListener[] = [];
afterEach(async () => {
  for (const listener of open.splice(0)) await listener.close();
});

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('listenForStorm', () => {
  it('hands every connection of a burst to the handler, over several sockets sharing one port', async () => {
    const accepted: Socket[] = [];
    const listener = await listenForStorm({ port: 0, host: '127.0.0.1', sockets: 4 }, (socket) => accepted.push(socket));
    open.push(listener);
    const clients = await Promise.all(Array.from({ length: 200 }, () => dial(listener.address.port)));
    await expect.poll(() => accepted.length).toBe(200);
    for (const socket of [...clients, ...accepted]) socket.destroy();
  });

  it('frees the port on close, so a restarted manager listens on the same one', async () => {
    const first = await listenForStorm({ port: 0, host: '127.0.0.1' }, (socket) => socket.destroy());
    const { port } = first.address;
    await first.close();
    await expect(dial(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const again = await listenForStorm({ port, host: '127.0.0.1' }, (socket) => socket.end());
    open.push(again);
    expect(again.address.port).toBe(port);
  });

  it('fails with EADDRINUSE when a socket without port sharing holds the port', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    await expect(listenForStorm({ port, host: '127.0.0.1' }, () => undefined)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    holder.close();
  });
});
