import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { OvsdbClient } from './ovsdb-client.ts';

// A fake ovsdb-server on port 0 that answers each request with the raw bytes a test chooses.
let server: Server | undefined;
let client: OvsdbClient | undefined;

async function fakeServer(answer: (socket: Socket, id: number) => void): Promise<number> {
  server = createServer((socket) => {
    socket.on('data', (data) => {
      const { id } = JSON.parse(data.toString('utf8')) as { id: number };
      answer(socket, id);
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

afterEach(async () => {
  await client?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  client = undefined;
  server = undefined;
});

describe('OvsdbClient framing', () => {
  it('answers requests after the server sent a stray closing brace', async () => {
    const port = await fakeServer((socket, id) => {
      socket.write(Buffer.from(`}\n${JSON.stringify({ id, result: [{ count: id }], error: null })}`, 'utf8'));
    });
    client = await OvsdbClient.connect({ host: '127.0.0.1', port }, 5_000);
    await expect(client.transact('Open_vSwitch', [{ op: 'select', table: 'Port', where: [] }])).resolves.toEqual([{ count: 1 }]);
    await expect(client.transact('Open_vSwitch', [{ op: 'select', table: 'Port', where: [] }])).resolves.toEqual([{ count: 2 }]);
  });

  it('drops the connection with a clear error when a message passes the limit', async () => {
    const port = await fakeServer((socket, id) => {
      socket.write(Buffer.from(`{"id":${id},"result":"${'x'.repeat(4096)}`, 'utf8'));
    });
    client = await OvsdbClient.connect({ host: '127.0.0.1', port }, 30_000, { maxMessageChars: 1024 });
    const failure = await client.request('echo', []).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'unavailable' });
    expect(String(failure)).toContain('longer than 1024 characters');
    expect(client.isOpen).toBe(false);
  });
});
