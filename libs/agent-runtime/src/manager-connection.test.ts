// Each node's connection to the manager is its own, as separate machines' are.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, connect, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { Server, ServerCredentials, credentials } from '@grpc/grpc-js';
import { AgentService } from '@metalfleet/proto';
import { addService } from '@metalfleet/transport';
import { openManagerConnection } from './manager-connection.ts';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

/** A gRPC server behind a TCP relay that counts the connections made to it. */
async function countingServer(): Promise<{ address: string; connections: () => number }> {
  const server = new Server();
  addService(server, AgentService, {
    register: async (request) => ({ nodeId: `node-${request.identity?.systemUuid ?? ''}`, nodeCredential: 'c' }),
    updateInventory: async () => ({}),
    claimCommand: async () => ({}),
      issueCertificate: async () => ({}),
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  let connections = 0;
  const sockets = new Set<Socket>();
  const relay: NetServer = createServer((client) => {
    connections += 1;
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => {
    for (const s of sockets) s.destroy();
    relay.close();
    server.forceShutdown();
  });
  return { address: `127.0.0.1:${(relay.address() as AddressInfo).port}`, connections: () => connections };
}

describe('the connection to the manager', () => {
  it('is one per node, also for simulated nodes sharing a process and a CA', async () => {
    const server = await countingServer();
    // One credentials object, as trust.ts shares one per CA.
    const trust = { caPem: null, grpc: credentials.createInsecure() };
    const nodes = ['a', 'b', 'c'].map(() => openManagerConnection(server.address, trust, { initialMs: 100, maxMs: 1000 }));
    cleanup.push(() => nodes.forEach((n) => n.close()));
    const replies = await Promise.all(nodes.map((n, i) => n.client.register({ identity: { systemUuid: `u-${i}` } }, { deadlineMs: 10_000 })));
    expect(replies.map((r) => r.nodeId)).toEqual(['node-u-0', 'node-u-1', 'node-u-2']);
    expect(server.connections()).toBe(3);
  });
});
