// gRPC over TLS done by the storm listener: calls work as with grpc-js's own
// TLS (pinning, verification, the policy), a bounded number of handshakes run
// at once, each for the server's answer to the client's hello (what is left waits
// on the client and holds no turn); a peer that sends no whole hello gets no turn.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Server, credentials } from '@grpc/grpc-js';
import { DomainError } from '@metalfleet/domain';
import { AgentService } from '@metalfleet/proto';
import { addService, createClient, fetchPinnedCa, retryAfterMsOf } from '@metalfleet/transport';
import { ensureCertificateAuthority, issueServerCertificate, type CertificateAuthority } from './pki.ts';
import { issueManagerClientCertificate } from './node-certificates.ts';
import { listenGrpcTlsForStorm } from './storm-listener.ts';
import { swallowingRelay } from './swallowing-relay.test-kit.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-grpc-gate-'));
let ca: CertificateAuthority;
let server: Server;
let listener: Awaited<ReturnType<typeof listenGrpcTlsForStorm>>;
let port: number;

beforeAll(async () => {
  ca = await ensureCertificateAuthority(join(dir, 'pki'));
  const cert = await issueServerCertificate(ca, ['localhost', '127.0.0.1']);
  server = new Server();
  addService(server, AgentService, {
    register: async (request) => {
      if (request.bootstrapToken === 'busy') throw new DomainError('unavailable', 'busy', { retryAfterMs: 1500 });
      return { nodeId: 'gated-ok' };
    },
    updateInventory: async () => ({}),
    claimCommand: async () => ({}),
      issueCertificate: async () => ({}),
  });
  listener = await listenGrpcTlsForStorm(server, { keyPem: cert.keyPem, chainPem: cert.chainPem, maxConcurrentHandshakes: 2, maxWaitMs: 500 }, { host: '127.0.0.1', port: 0 });
  port = listener.address.port;
});

afterAll(async () => {
  await listener.close();
  server.forceShutdown();
});

function dial(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('gRPC with gated TLS handshakes', () => {
  it('serves pinned, verified gRPC calls; a busy refusal carries its retry-after hint to the client', async () => {
    const caPem = await fetchPinnedCa('127.0.0.1', port, ca.fingerprint);
    const { client, close } = createClient(AgentService, `127.0.0.1:${port}`, credentials.createSsl(Buffer.from(caPem)));
    try {
      expect((await client.register({})).nodeId).toBe('gated-ok');
      const refused = await client.register({ bootstrapToken: 'busy' }).catch((error: unknown) => error);
      expect(refused).toMatchObject({ code: 'unavailable' });
      expect(retryAfterMsOf(refused)).toBe(1500);
    } finally {
      close();
    }
  });

  it('gives no turn to a TLS 1.2 handshake that the client stalls: the server answered its hello, the rest waits on the client', async () => {
    // Two TLS 1.2 clients whose hellos reach the manager but that never get its answer (a relay swallows it), as a
    // peer stalling on purpose would. Before, over TLS 1.2 a turn lasted until the handshake was done: each held
    // one of the two turns for the 10 s handshake timeout, and a third client, honest, waited and was closed unread.
    const relays = await Promise.all([0, 1].map(() => swallowingRelay(port)));
    const stalling = relays.map((relay) => tlsConnect({ port: relay.port, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: ['h2'], maxVersion: 'TLSv1.2' }));
    for (const s of stalling) s.on('error', () => undefined);
    await expect.poll(() => relays.every((r) => r.swallowed() > 0)).toBe(true);
    await expect.poll(() => listener.gate.active()).toBe(0);
    const shedBefore = listener.gate.shed();
    const caPem = await fetchPinnedCa('127.0.0.1', port, ca.fingerprint);
    expect(caPem).toContain('BEGIN CERTIFICATE');
    expect(listener.gate.shed()).toBe(shedBefore);
    for (const s of stalling) s.destroy();
    for (const r of relays) r.close();
  });

  it('gives a handshake\'s turn back once the server\'s part is sent: clients slow to answer it do not hold the turns', async () => {
    // Two clients whose hellos reach the manager but that never get its answer (a relay that swallows the
    // server's bytes), as clients too slow to answer would: before, each kept its turn until its handshake timed out.
    const relays = await Promise.all([0, 1].map(() => swallowingRelay(port)));
    const slow = relays.map((relay) => tlsConnect({ port: relay.port, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: ['h2'] }));
    for (const s of slow) s.on('error', () => undefined);
    await expect.poll(() => relays.every((r) => r.swallowed() > 0)).toBe(true);
    await expect.poll(() => listener.gate.active()).toBe(0);
    // A client that answers gets its handshake done at once.
    const caPem = await fetchPinnedCa('127.0.0.1', port, ca.fingerprint);
    expect(caPem).toContain('BEGIN CERTIFICATE');
    expect(listener.gate.shed()).toBe(0);
    for (const s of slow) s.destroy();
    for (const r of relays) r.close();
  });

  it('gives no turn to a peer that sends nothing or half a hello, closes it after the wait, and closes one that sends no TLS at once', async () => {
    const shedBefore = listener.gate.shed();
    // Silent peers and a half hello (its record header says 512 bytes; 10 came): before, each took a turn
    // for the 10 s handshake timeout, so a few such peers from anywhere kept every node waiting.
    const silent = [await dial(), await dial(), await dial()];
    const half = await dial();
    half.write(Buffer.concat([Buffer.from([22, 3, 1, 2, 0]), Buffer.alloc(5)]));
    const closes = [...silent, half].map((s) => new Promise<void>((resolve) => {
      s.on('error', () => undefined);
      s.once('close', () => resolve());
    }));
    // A real client is served, the silent ones notwithstanding.
    const caPem = await fetchPinnedCa('127.0.0.1', port, ca.fingerprint);
    expect(caPem).toContain('BEGIN CERTIFICATE');
    // They are closed after the 500 ms wait for a turn (holding turns, they were closed by the 10 s handshake timeout).
    await Promise.all(closes);
    expect(listener.gate.active()).toBe(0);
    expect(listener.gate.shed() - shedBefore).toBe(4);
    // Not TLS at all: closed without waiting.
    const plain = await dial();
    const plainClosed = new Promise<void>((resolve) => plain.once('close', () => resolve()));
    plain.on('error', () => undefined);
    plain.write('GET / HTTP/1.1\r\n\r\n');
    await plainClosed;
    expect(listener.gate.shed() - shedBefore).toBe(5);
  });

  it('holds at most maxPending connections not yet handed to gRPC: one more is closed at once, and room comes back as they close', async () => {
    const cert = await issueServerCertificate(ca, ['127.0.0.1']);
    const own = new Server();
    const small = await listenGrpcTlsForStorm(own, { keyPem: cert.keyPem, chainPem: cert.chainPem, maxConcurrentHandshakes: 2, maxWaitMs: 60_000, maxPending: 2 }, { host: '127.0.0.1', port: 0 });
    const to = small.address.port;
    const dialTo = () => new Promise<Socket>((resolve, reject) => {
      const socket = connect({ port: to, host: '127.0.0.1' }, () => resolve(socket));
      socket.once('error', reject);
    });
    // Three silent peers: two fill it, one is closed (which one is the kernel's order of handing them over).
    // Before, any number could wait, each with its buffered hello.
    const peers = [await dialTo(), await dialTo(), await dialTo()];
    const closed = await Promise.race(peers.map((p, i) => {
      p.on('error', () => undefined);
      return new Promise<number>((resolve) => p.once('close', () => resolve(i)));
    }));
    expect(small.gate.shed()).toBe(1);
    expect(peers.filter((p, i) => i !== closed && !p.destroyed)).toHaveLength(2);
    for (const p of peers) p.destroy();
    await expect.poll(async () => (await fetchPinnedCa('127.0.0.1', to, ca.fingerprint).catch(() => '')).includes('BEGIN CERTIFICATE')).toBe(true);
    await small.close();
    own.forceShutdown();
  });
});

describe('gRPC with client certificates asked for (--node-certificates)', () => {
  it('hands the handler the caller\'s certificate when it chains to the client CA, and nothing for none or another CA\'s', async () => {
    const cert = await issueServerCertificate(ca, ['localhost', '127.0.0.1']);
    const asking = new Server();
    // The handler answers with what it was told of the caller's certificate.
    addService(asking, AgentService, {
      register: async () => ({}),
      updateInventory: async () => ({}),
      claimCommand: async (_request, context) => ({ reason: context.peerCertificate ? `${context.peerCertificate.commonName} ${context.peerCertificate.serial}` : 'none' }),
      issueCertificate: async () => ({}),
    });
    const gated = await listenGrpcTlsForStorm(asking, { keyPem: cert.keyPem, chainPem: cert.chainPem, maxConcurrentHandshakes: 2, maxWaitMs: 500, clientCaPem: ca.certPem },
      { host: '127.0.0.1', port: 0 });
    const otherCa = await ensureCertificateAuthority(join(dir, 'other-pki'));
    const now = new Date();
    const later = new Date(now.getTime() + 3_600_000);
    const node = await issueManagerClientCertificate(ca, 'node-7', now, later);
    const forged = await issueManagerClientCertificate(otherCa, 'node-7', now, later);
    const claimAs = async (identity: { keyPem: string; certPem: string } | null) => {
      const channel = identity
        ? credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(identity.keyPem), Buffer.from(identity.certPem))
        : credentials.createSsl(Buffer.from(ca.certPem));
      const { client, close } = createClient(AgentService, `127.0.0.1:${gated.address.port}`, channel);
      try {
        return (await client.claimCommand({ commandId: 'c' }, { deadlineMs: 5000 })).reason;
      } finally {
        close();
      }
    };
    try {
      expect(await claimAs(node)).toBe(`node-7 ${new X509Certificate(node.certPem).serialNumber.toLowerCase()}`);
      expect(await claimAs(null)).toBe('none');
      expect(await claimAs(forged)).toBe('none');
    } finally {
      await gated.close();
      asking.forceShutdown();
    }
  });
});
