// Real TLS clients against the broker's and the gRPC server's listeners: a
// client that offers only CBC suites with TLS 1.2 is refused, AEAD suites and
// TLS 1.3 are served.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Server } from '@grpc/grpc-js';
import { AgentService } from '@metalfleet/proto';
import { addService } from '@metalfleet/transport';
import { createNodeBroker, type NodeBroker } from './mqtt-broker.ts';
import { ensureCertificateAuthority, issueServerCertificate } from './pki.ts';
import { listenGrpcForStorm, type StormListener } from './storm-listener.ts';
import { grpcServerCredentials } from './tls-policy.ts';

let broker: NodeBroker;
let grpc: Server;
let grpcListener: StormListener;
const ports: Record<string, number> = {};

beforeAll(async () => {
  const ca = await ensureCertificateAuthority(join(mkdtempSync(join(tmpdir(), 'mf-tls-policy-')), 'pki'));
  const cert = await issueServerCertificate(ca, ['127.0.0.1']);
  broker = await createNodeBroker({ authenticateNode: async () => false, maxPayloadBytes: 1024 });
  ports['mqtt'] = (await broker.listen(0, '127.0.0.1', { keyPem: cert.keyPem, chainPem: cert.chainPem })).port;
  grpc = new Server();
  addService(grpc, AgentService, { register: async () => ({}), updateInventory: async () => ({}), claimCommand: async () => ({}), issueCertificate: async () => ({}) });
  grpcListener = await listenGrpcForStorm(grpc, grpcServerCredentials(cert.keyPem, cert.chainPem), { port: 0, host: '127.0.0.1', sockets: 1 });
  ports['grpc'] = grpcListener.address.port;
});

afterAll(async () => {
  await broker.close();
  await grpcListener.close();
  grpc.forceShutdown();
});

/** A TLS handshake with the given offer: the negotiated cipher, or the error that ended it. */
function handshake(port: number, offer: { ciphers?: string; maxVersion?: 'TLSv1.2' | 'TLSv1.3'; alpn?: string[] }): Promise<{ cipher: string; version: string } | { error: string }> {
  return new Promise((resolve) => {
    const socket = connect({
      host: '127.0.0.1', port, rejectUnauthorized: false, ...(offer.ciphers ? { ciphers: offer.ciphers } : {}), maxVersion: offer.maxVersion ?? 'TLSv1.3',
      ...(offer.alpn ? { ALPNProtocols: offer.alpn } : {}),
    });
    socket.once('secureConnect', () => {
      const result = { cipher: socket.getCipher().standardName, version: socket.getProtocol() ?? '' };
      socket.destroy();
      resolve(result);
    });
    socket.once('error', (error) => resolve({ error: error.message }));
  });
}

// The server certificate is ECDSA: these are the CBC suites (TLS 1.2) it could otherwise be served with.
const cbcOnly = 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA';

describe.each(['mqtt', 'grpc'])('TLS policy of the %s listener', (listener) => {
  const alpn = listener === 'grpc' ? ['h2'] : undefined;

  it('refuses a TLS 1.2 client that offers only CBC suites', async () => {
    const result = await handshake(ports[listener] ?? 0, { ciphers: cbcOnly, maxVersion: 'TLSv1.2', ...(alpn ? { alpn } : {}) });
    expect(result).toMatchObject({ error: expect.stringMatching(/handshake failure|no shared cipher|alert/i) as unknown });
  });

  it.each(['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305'])('serves a TLS 1.2 client offering %s', async (suite) => {
    expect(await handshake(ports[listener] ?? 0, { ciphers: suite, maxVersion: 'TLSv1.2', ...(alpn ? { alpn } : {}) })).toMatchObject({ version: 'TLSv1.2' });
  });

  it('serves TLS 1.3 with an AEAD suite', async () => {
    expect(await handshake(ports[listener] ?? 0, { ...(alpn ? { alpn } : {}) })).toMatchObject({ version: 'TLSv1.3', cipher: expect.stringMatching(/GCM|CHACHA20_POLY1305/) as unknown });
  });
});
