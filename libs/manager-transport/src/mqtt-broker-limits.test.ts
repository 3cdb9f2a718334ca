// The broker against hostile raw clients: packets that announce far more than
// they should, and one address opening more connections than allowed.
import { mkdtempSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { createNodeBroker, type BrokerEvent, type NodeBroker } from './mqtt-broker.ts';
import { MqttFrameScanner, mqttFixedHeader } from './mqtt-frame-guard.ts';
import { ensureCertificateAuthority, issueServerCertificate } from './pki.ts';
import { swallowingRelay } from './swallowing-relay.test-kit.ts';

const maxPayloadBytes = 64 * 1024;
const perAddress = 5;
let broker: NodeBroker;
let port: number;
const events: BrokerEvent[] = [];
// Real connections on a loaded host (a full `npm test` on two cores) take far longer than alone;
// every wait here is on a broker's answer, so a generous limit costs nothing when all is well.
const realConnections = { timeout: 60_000 };

beforeAll(async () => {
  broker = await createNodeBroker({
    authenticateNode: async (nodeId, secret) => nodeId === 'node-a' && secret === 'secret-a',
    maxPayloadBytes,
    maxConnectionsPerAddress: perAddress,
    onEvent: (e) => events.push(e),
  });
  port = (await broker.listen(0, '127.0.0.1')).port;
});

afterAll(() => broker.close());

const announced250MB = 250 * 1024 * 1024;

function dial(to = port): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: to, host: '127.0.0.1' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * Sends `header` and then as much of the announced body as the broker takes,
 * 64 KiB at a time, until it closes the connection or `max` bytes are out.
 * Resolves with how many body bytes were written before the close.
 */
function pushUntilClosed(socket: Socket, header: Buffer, max: number): Promise<{ written: number; closedByServer: boolean }> {
  return new Promise((resolve) => {
    let written = 0;
    let closed = false;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      closed = true;
      resolve({ written, closedByServer: written < max });
    });
    const pump = () => {
      while (!closed && written < max) {
        written += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
      if (!closed) resolve({ written, closedByServer: false });
    };
    socket.write(header);
    pump();
  });
}

describe('MQTT packet size before and after authentication', realConnections, () => {
  it('cuts an unauthenticated CONNECT announcing 250 MB before the client could send even 16 MB of it', async () => {
    const socket = await dial();
    const { written, closedByServer } = await pushUntilClosed(socket, mqttFixedHeader(0x10, announced250MB), 64 * 1024 * 1024);
    expect(closedByServer).toBe(true);
    // What the kernel's socket buffers take on loopback is all that went out: the broker read a few KB of it.
    expect(written).toBeLessThan(16 * 1024 * 1024);
    expect(events).toContainEqual(expect.objectContaining({ type: 'packet-too-large', announced: announced250MB, authenticated: false }));
    socket.destroy();
  });

  it('cuts a pre-CONNECT packet just over the few-KB limit, and accepts a real client', async () => {
    const socket = await dial();
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.write(mqttFixedHeader(0x10, 9000));
    await closed;
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'node-a', username: 'node-a', password: 'secret-a', reconnectPeriod: 0 });
    expect(client.connected).toBe(true);
    await client.endAsync();
  });

  it('lets an authenticated node publish up to its payload limit and cuts a PUBLISH announcing 250 MB', async () => {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'node-a', username: 'node-a', password: 'secret-a', reconnectPeriod: 0 });
    await client.publishAsync('mf/v1/nodes/node-a/telemetry', Buffer.alloc(maxPayloadBytes - 100), { qos: 1 });
    const socket = client.stream as Socket;
    const topic = Buffer.from('mf/v1/nodes/node-a/telemetry');
    const header = Buffer.concat([mqttFixedHeader(0x30, announced250MB), Buffer.from([0, topic.length]), topic]);
    const { written, closedByServer } = await pushUntilClosed(socket, header, 64 * 1024 * 1024);
    expect(closedByServer).toBe(true);
    expect(written).toBeLessThan(16 * 1024 * 1024);
    expect(events).toContainEqual(expect.objectContaining({ type: 'packet-too-large', clientId: 'node-a', announced: announced250MB, authenticated: true }));
    client.end(true);
  });
});

/** A broker's listener as a node reaches it: plain, or TLS with the CA that signed the broker's certificate. */
interface Target { port: number; ca?: string }

/** A real node's connection once its CONNECT is accepted, or null once the broker closes the connection instead. */
function connectNode(to: Target, nodeId = 'node-a'): Promise<MqttClient | null> {
  return new Promise((resolve) => {
    const client = mqtt.connect(`${to.ca ? 'mqtts' : 'mqtt'}://127.0.0.1:${to.port}`, {
      clientId: nodeId, username: nodeId, password: `secret-${nodeId.slice(5)}`, reconnectPeriod: 0, connectTimeout: 30_000, ...(to.ca ? { ca: to.ca } : {}),
    });
    client.on('error', () => undefined);
    client.once('close', () => resolve(null));
    client.once('connect', () => resolve(client));
  });
}

async function nodeGetsIn(to: Target, nodeId = 'node-a'): Promise<boolean> {
  const client = await connectNode(to, nodeId);
  client?.end(true);
  return client !== null;
}

/** Tries until a node gets in: each try waits for the broker's answer, so this waits on the broker, not on a clock. */
async function untilNodeGetsIn(to: Target, nodeId = 'node-a'): Promise<MqttClient> {
  for (;;) {
    const client = await connectNode(to, nodeId);
    if (client) return client; // else the broker has not seen the close yet: try again
  }
}

/** Opens `count` silent connections (no CONNECT) and waits for the broker to close the first of them: which one depends on the order the kernel hands them over in. */
async function dialUntilOneRefused(to: number, count: number): Promise<{ refused: Socket; held: Socket[] }> {
  const sockets = await Promise.all(Array.from({ length: count }, () => dial(to)));
  for (const socket of sockets) socket.on('error', () => undefined);
  const refused = await Promise.race(sockets.map((s) => new Promise<Socket>((resolve) => s.once('close', () => resolve(s)))));
  return { refused, held: sockets.filter((s) => s !== refused) };
}

async function closeSocket(socket: Socket): Promise<void> {
  const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.destroy();
  await gone;
}

const authenticateNode = async (nodeId: string, secret: string) => ['node-a', 'node-b'].includes(nodeId) && secret === `secret-${nodeId.slice(5)}`;

describe('connections per source address', realConnections, () => {
  it(`refuses the connection over ${perAddress} from one address and takes one again once another closes`, async () => {
    // A broker of its own, so that no connection of the tests above still counts; silent connections
    // are not cut by the CONNECT timeout however slow the host.
    const own = await createNodeBroker({ authenticateNode, maxPayloadBytes, maxConnectionsPerAddress: perAddress, connectTimeoutMs: 120_000, onEvent: (e) => events.push(e) });
    const ownPort = (await own.listen(0, '127.0.0.1')).port;
    // The listener is several sockets on one port (SO_REUSEPORT): the kernel decides which connection
    // the broker takes last, so the refused one is whichever the broker closes.
    const { held } = await dialUntilOneRefused(ownPort, perAddress + 1);
    expect(held).toHaveLength(perAddress);
    expect(events).toContainEqual(expect.objectContaining({ type: 'connection-refused', address: '127.0.0.1', reason: 'too many connections from this address' }));
    // Exactly one was refused: the other five are still counted, so a real node is refused too.
    expect(await nodeGetsIn({ port: ownPort })).toBe(false);
    expect(held.every((s) => !s.destroyed)).toBe(true);
    await closeSocket(held[0] as Socket);
    // Once the broker sees that close, a real node gets in.
    (await untilNodeGetsIn({ port: ownPort })).end(true);
    for (const socket of held) socket.destroy();
    await own.close();
  });
});

describe('connections not yet authenticated, all addresses together', realConnections, () => {
  it.each(['plain TCP', 'TLS'])('over %s: refuses a connection over the cap while others wait unauthenticated, and stops counting a node once it authenticates', async (transport) => {
    const cap = 3;
    const own = await createNodeBroker({ authenticateNode, maxPayloadBytes, maxConnectionsPerAddress: 0, maxUnauthenticatedConnections: cap, connectTimeoutMs: 120_000, onEvent: (e) => events.push(e) });
    let target: Target;
    if (transport === 'TLS') {
      const ca = await ensureCertificateAuthority(join(mkdtempSync(join(tmpdir(), 'mf-broker-limits-')), 'pki'));
      const cert = await issueServerCertificate(ca, ['127.0.0.1']);
      target = { port: (await own.listen(0, '127.0.0.1', { keyPem: cert.keyPem, chainPem: cert.chainPem })).port, ca: ca.certPem };
    } else {
      target = { port: (await own.listen(0, '127.0.0.1')).port };
    }
    // Three silent connections (not even a TLS handshake) fill the cap; which one of four is refused is the kernel's choice.
    const { held } = await dialUntilOneRefused(target.port, cap + 1);
    expect(events).toContainEqual(expect.objectContaining({ type: 'connection-refused', reason: 'too many connections not yet authenticated' }));
    expect(await nodeGetsIn(target)).toBe(false);
    // One leaves: node A gets in and, authenticated, no longer counts. With two still waiting,
    // node B gets in as well (were node A still counted, the cap of three would refuse it).
    await closeSocket(held[0] as Socket);
    const nodeA = await untilNodeGetsIn(target);
    expect(await nodeGetsIn(target, 'node-b')).toBe(true);
    nodeA.end(true);
    for (const socket of held) socket.destroy();
    await own.close();
  });
});

describe('connections being set up over TLS (admission control)', realConnections, () => {
  it.each(['TLSv1.3', 'TLSv1.2'] as const)('gives a connection\'s turn back once the server answered its hello (%s): clients slow to answer, or stalling on purpose, do not hold the turns', async (maxVersion) => {
    const own = await createNodeBroker({ authenticateNode, maxPayloadBytes, maxConnectionsPerAddress: 0, maxConcurrentConnects: 2, maxConnectWaitMs: 60_000, connectTimeoutMs: 120_000 });
    const ca = await ensureCertificateAuthority(join(mkdtempSync(join(tmpdir(), 'mf-broker-turns-')), 'pki'));
    const cert = await issueServerCertificate(ca, ['127.0.0.1']);
    const target = { port: (await own.listen(0, '127.0.0.1', { keyPem: cert.keyPem, chainPem: cert.chainPem })).port, ca: ca.certPem };
    // Two clients whose hellos reach the broker but that never get its answer (a relay swallows the broker's
    // bytes), as clients too slow to answer would: before, each kept its turn until its handshake timed out (TLS 1.3
    // until the server's part was sent; TLS 1.2, until the 10 s handshake timeout: a peer stalling on purpose held them).
    const relays = await Promise.all([0, 1].map(() => swallowingRelay(target.port)));
    const slow = relays.map((relay) => tlsConnect({ port: relay.port, host: '127.0.0.1', rejectUnauthorized: false, maxVersion }));
    for (const socket of slow) socket.on('error', () => undefined);
    await expect.poll(() => relays.every((r) => r.swallowed() > 0), realConnections).toBe(true);
    await expect.poll(() => own.admission().connecting, realConnections).toBe(0);
    // A node that answers gets in at once.
    expect(await nodeGetsIn(target)).toBe(true);
    for (const socket of slow) socket.destroy();
    for (const relay of relays) relay.close();
    await own.close();
  });
});


describe('connections that send nothing (admission control)', realConnections, () => {
  it.each(['plain TCP', 'TLS'])('over %s: take no turn until their first message (a CONNECT, a TLS hello) has come whole, and are closed after the wait', async (transport) => {
    const own = await createNodeBroker({ authenticateNode, maxPayloadBytes, maxConnectionsPerAddress: 0, maxConcurrentConnects: 1, maxConnectWaitMs: 2000, connectTimeoutMs: 120_000 });
    let target: Target;
    if (transport === 'TLS') {
      const ca = await ensureCertificateAuthority(join(mkdtempSync(join(tmpdir(), 'mf-broker-silent-')), 'pki'));
      const cert = await issueServerCertificate(ca, ['127.0.0.1']);
      target = { port: (await own.listen(0, '127.0.0.1', { keyPem: cert.keyPem, chainPem: cert.chainPem })).port, ca: ca.certPem };
    } else {
      target = { port: (await own.listen(0, '127.0.0.1')).port };
    }
    // Silent peers and a half first message: before, the first to be accepted held the only turn
    // (for the whole CONNECT timeout over plain TCP, the handshake timeout over TLS) and every node waited.
    const silent = [await dial(target.port), await dial(target.port), await dial(target.port)];
    silent[2]?.write(Buffer.from(transport === 'TLS' ? [22, 3, 1, 2, 0, 1, 2] : [0x10, 100, 0, 4]));
    const closed = silent.map((socket) => {
      socket.on('error', () => undefined);
      return new Promise<void>((resolve) => socket.once('close', () => resolve()));
    });
    const node = await connectNode(target);
    expect(node?.connected).toBe(true);
    // Closed after the 2 s wait for a first message (holding the turn: after the CONNECT or handshake timeout).
    await Promise.all(closed);
    node?.end(true);
    await own.close();
  });
});

describe('MqttFrameScanner', () => {
  it.each([
    ['a small packet whole', [Buffer.from([0x30, 3, 1, 2, 3])], null],
    // Over the limit as soon as the decoded part of the length is: 127 + 127·128 already is.
    ['a length split across chunks', [Buffer.from([0x10, 0xff]), Buffer.from([0xff, 0x7f])], 16_383],
    ['a second packet over the limit after a small one', [Buffer.from([0xc0, 0, 0x30]), Buffer.from([0x80, 0x80, 0x01])], 16_384],
    ['a body that spans chunks, then a small packet', [Buffer.from([0x30, 200, 0]), Buffer.alloc(199), Buffer.from([0xc0, 0])], null],
  ])('%s', (_name, chunks, announced) => {
    const scanner = new MqttFrameScanner(8192);
    const found = chunks.map((c) => scanner.scan(c)).find((v) => v !== null) ?? null;
    expect(found?.announced ?? null).toBe(announced);
  });

  it('refuses a remaining length of more than four bytes', () => {
    expect(new MqttFrameScanner(Number.MAX_SAFE_INTEGER).scan(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]))).toEqual({ announced: -1, limit: Number.MAX_SAFE_INTEGER });
  });
});
