import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Server, ServerCredentials, credentials } from '@grpc/grpc-js';
import { AgentService } from '@metalfleet/proto';
import { addService, createClient, fetchPinnedCa } from '@metalfleet/transport';
import { ensureCertificateAuthority, issueServerCertificate, type CertificateAuthority } from './pki.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-pki-'));
let ca: CertificateAuthority;
let server: Server;
let port: number;

beforeAll(async () => {
  ca = await ensureCertificateAuthority(join(dir, 'pki'));
  const cert = await issueServerCertificate(ca, ['localhost', '127.0.0.1']);
  server = new Server();
  addService(server, AgentService, {
    register: async () => ({ nodeId: 'tls-ok' }),
    updateInventory: async () => ({}),
    claimCommand: async () => ({}),
      issueCertificate: async () => ({}),
  });
  port = await new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0',
    ServerCredentials.createSsl(null, [{ private_key: Buffer.from(cert.keyPem), cert_chain: Buffer.from(cert.chainPem) }], false),
    (e, p) => (e ? reject(e) : resolve(p))));
});

afterAll(() => server.forceShutdown());

describe('manager PKI', () => {
  it('creates the CA once, with a private key only its owner can read', async () => {
    const again = await ensureCertificateAuthority(join(dir, 'pki'));
    expect(again).toMatchObject({ created: false, fingerprint: ca.fingerprint });
    expect(statSync(join(dir, 'pki', 'ca.key')).mode & 0o777).toBe(0o600);
    expect(ca.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('lets an agent pin the CA from the chain and then call gRPC over verified TLS', async () => {
    const caPem = await fetchPinnedCa('127.0.0.1', port, ca.fingerprint);
    expect(caPem).toContain('BEGIN CERTIFICATE');
    const { client, close } = createClient(AgentService, `127.0.0.1:${port}`, credentials.createSsl(Buffer.from(caPem)));
    expect((await client.register({})).nodeId).toBe('tls-ok');
    close();
  });

  it('refuses a manager whose CA is not the pinned one', async () => {
    await expect(fetchPinnedCa('127.0.0.1', port, 'ab'.repeat(32))).rejects.toMatchObject({ code: 'unauthenticated' });
  });

  it('fails verification against another CA', async () => {
    const other = await ensureCertificateAuthority(join(dir, 'other'));
    const { client, close } = createClient(AgentService, `127.0.0.1:${port}`, credentials.createSsl(Buffer.from(other.certPem)));
    await expect(client.register({}, { deadlineMs: 3000 })).rejects.toMatchObject({ code: 'unavailable' });
    close();
  });
});
