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

/** A session's deps with nothing but the broker connection doing anything. */
function sessionDeps(port: number, signal: AbortSignal): SessionDeps {
  const noop = () => undefined;
  return {
    registration: { nodeId: 'n1', credential: 'c', mqttHost: '127.0.0.1', mqttPort: port, mqttTls: false, brokers: [], telemetryIntervalMs: 3_600_000, inventoryIntervalMs: 3_600_000 },
    calls: {}, caPem: null, backend: { telemetry: () => Promise.reject(new Error('no readings here')) },
    version: 'test', logger: pino({ level: 'silent' }), mqttProtocolVersion: 4, signal,
    drainer: { attach: noop, detach: noop }, health: { spoolDigest: noop },
    commands: { recover: () => Promise.resolve(), reportBootResult: () => Promise.resolve(), handle: () => Promise.resolve() },
    backoff: { initialMs: 20, maxMs: 40 },
  } as unknown as SessionDeps;
}

describe('an agent MQTT session', () => {
  it('names each connection in its online status and in the last will the broker publishes when that connection drops', async () => {
    const broker = await Aedes.createBroker();
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      broker.handle(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      server.close();
    });
    const statuses: Array<{ status: string; session: string }> = [];
    broker.on('publish', (packet) => {
      if (!packet.topic.endsWith('/n1/status')) return;
      const status = fromBinary(NodeStatusSchema, packet.payload as Buffer);
      statuses.push({ status: `${status.presence === Presence.ONLINE ? 'online' : 'offline'}#${status.connection}`, session: status.bootId });
    });
    const said = (status: string) => statuses.some((s) => s.status === status);

    const stop = new AbortController();
    const ended = runMqttSession(sessionDeps((server.address() as { port: number }).port, stop.signal));
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
