// An agent's MQTT session against a real broker (aedes), its connections cut
// from the broker's side: each connection says which it is, in its "online"
// and in the last will the broker publishes when it drops, so the manager can
// tell a late will of an earlier connection from the current one's.
import { createServer, type Socket } from 'node:net';
import { fromBinary } from '@bufbuild/protobuf';
import { Aedes } from 'aedes';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeStatusSchema, Presence } from '@metalfleet/proto';
import { runMqttSession, type SessionDeps } from '@metalfleet/agent-runtime';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function until(condition: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A session's deps with nothing but the broker connection doing anything; `brokers`: a cluster's nodes' ports. */
function sessionDeps(port: number, signal: AbortSignal, nodeId = 'n1', brokers: number[] = []): SessionDeps {
  const noop = () => undefined;
  return {
    registration: {
      nodeId, credential: 'c', mqttHost: '127.0.0.1', mqttPort: port, mqttTls: false, brokers: brokers.map((p) => ({ host: '127.0.0.1', port: p })),
      telemetryIntervalMs: 3_600_000, inventoryIntervalMs: 3_600_000,
    },
    calls: {}, caPem: null, backend: { telemetry: () => Promise.reject(new Error('no readings here')) },
    version: 'test', logger: pino({ level: 'silent' }), mqttProtocolVersion: 4, signal,
    drainer: { attach: noop, detach: noop }, health: { spoolDigest: noop },
    commands: { recover: () => Promise.resolve(), reportBootResult: () => Promise.resolve(), handle: () => Promise.resolve() },
    backoff: { initialMs: 20, maxMs: 40 },
  } as unknown as SessionDeps;
}

/** An aedes broker on a free loopback port, and the client ids that connected to it. */
async function startBroker(): Promise<{ port: number; clients: string[]; sockets: Socket[]; broker: Aedes }> {
  const broker = await Aedes.createBroker();
  const sockets: Socket[] = [];
  const clients: string[] = [];
  broker.on('client', (client) => clients.push(client.id));
  const server = createServer((socket) => {
    sockets.push(socket);
    broker.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    server.close();
  });
  return { port: (server.address() as { port: number }).port, clients, sockets, broker };
}

describe('an agent MQTT session', () => {
  it('connects the nodes of a fleet to every broker of a cluster, not all to its first', async () => {
    const cluster = [await startBroker(), await startBroker(), await startBroker()];
    const stop = new AbortController();
    const ports = cluster.map((b) => b.port);
    const sessions = Array.from({ length: 30 }, (_, i) => runMqttSession(sessionDeps(ports[0]!, stop.signal, `node-${i}`, ports)));
    await until(() => cluster.reduce((sum, b) => sum + b.clients.length, 0) === 30, 'every node connected');
    stop.abort();
    await Promise.all(sessions);
    // Before: 30 on the first, none on the others.
    for (const broker of cluster) expect(broker.clients.length).toBeGreaterThan(3);
  });

  it('names each connection in its online status and in the last will the broker publishes when that connection drops', async () => {
    const { broker, port, sockets } = await startBroker();
    const statuses: Array<{ status: string; session: string }> = [];
    broker.on('publish', (packet) => {
      if (!packet.topic.endsWith('/n1/status')) return;
      const status = fromBinary(NodeStatusSchema, packet.payload as Buffer);
      statuses.push({ status: `${status.presence === Presence.ONLINE ? 'online' : 'offline'}#${status.connection}`, session: status.bootId });
    });
    const said = (status: string) => statuses.some((s) => s.status === status);

    const stop = new AbortController();
    const ended = runMqttSession(sessionDeps(port, stop.signal));
    for (const connection of [1, 2, 3]) {
      await until(() => said(`online#${connection}`), `connection ${connection} online`);
      sockets.at(-1)!.destroy();
      await until(() => said(`offline#${connection}`), `connection ${connection}'s will`);
    }
    await until(() => said('online#4'), 'connection 4 online');
    stop.abort();
    expect(await ended).toBe('stopped');
    expect(statuses.map((s) => s.status)).toEqual(['online#1', 'offline#1', 'online#2', 'offline#2', 'online#3', 'offline#3', 'online#4', 'offline#4']);
    // One agent run, one session: the connections change, the session does not.
    expect(new Set(statuses.map((s) => s.session)).size).toBe(1);
  });
});
