// Node client certificates as a broker sees them: checked with the real
// openssl against the manager's CA and revocation list; bad requests refused.
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { webcrypto, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCertificateAuthority, type CertificateAuthority } from './pki.ts';
import { CertificateRequestError, signNodeCertificate, signNodeCrl } from './node-certificates.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-node-certs-'));
let ca: CertificateAuthority;
const now = new Date();
const inADay = new Date(now.getTime() + 86_400_000);

async function request(algorithm: { name: 'ECDSA'; namedCurve: string } = { name: 'ECDSA', namedCurve: 'P-256' }): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=node-chosen-name', keys, signingAlgorithm: { ...algorithm, hash: 'SHA-256' } });
  return csr.toString('pem');
}

/** A request whose signature does not match its key: its last byte (inside the signature) changed. */
async function tampered(): Promise<string> {
  const der = Buffer.from(new x509.Pkcs10CertificateRequest(await request()).rawData);
  der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
}

const openssl = (args: string[]) => {
  try {
    return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    return `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`;
  }
};

beforeAll(async () => {
  ca = await ensureCertificateAuthority(join(dir, 'pki'));
  writeFileSync(join(dir, 'ca.crt'), ca.certPem);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('node client certificates', () => {
  it('signs a client certificate named after the node (not what the request asked), which openssl verifies for client auth until it is revoked', async () => {
    const signed = await signNodeCertificate(ca, await request(), 'node-7f3a', now, inADay);
    const cert = new X509Certificate(signed.certPem);
    expect(cert.subject).toBe('CN=node-7f3a');
    expect(cert.serialNumber.toLowerCase()).toBe(signed.serial);
    expect(new Date(cert.validTo).getTime()).toBe(Math.floor(inADay.getTime() / 1000) * 1000);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    writeFileSync(join(dir, 'node.crt'), signed.certPem);
    expect(openssl(['verify', '-CAfile', join(dir, 'ca.crt'), '-purpose', 'sslclient', join(dir, 'node.crt')])).toContain('node.crt: OK');
    expect(openssl(['verify', '-CAfile', join(dir, 'ca.crt'), '-purpose', 'sslserver', join(dir, 'node.crt')])).toMatch(/error 26 at 0 depth|unsupported certificate purpose/);

    writeFileSync(join(dir, 'empty.crl'), await signNodeCrl(ca, [], now, inADay));
    expect(openssl(['verify', '-CAfile', join(dir, 'ca.crt'), '-crl_check', '-CRLfile', join(dir, 'empty.crl'), join(dir, 'node.crt')])).toContain('node.crt: OK');
    writeFileSync(join(dir, 'nodes.crl'), await signNodeCrl(ca, [{ serial: signed.serial, revokedAt: now }], now, inADay));
    expect(openssl(['verify', '-CAfile', join(dir, 'ca.crt'), '-crl_check', '-CRLfile', join(dir, 'nodes.crl'), join(dir, 'node.crt')])).toContain('certificate revoked');
  });

  it('refuses a request that is not PKCS#10, too large, of another key type, or not signed by its own key', async () => {
    const refusal = (pem: string) => signNodeCertificate(ca, pem, 'node-1', now, inADay).then(() => null, (error: unknown) => error);
    const garbage = await refusal('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n');
    expect(garbage).toBeInstanceOf(CertificateRequestError);
    expect((garbage as Error).message).toMatch(/^the certificate request is not a PEM PKCS#10 request/);
    expect(((await refusal('x'.repeat(5000))) as Error).message).toBe('the certificate request is over 4096 bytes');
    expect(((await refusal(await request({ name: 'ECDSA', namedCurve: 'P-384' }))) as Error).message).toBe('the certificate request\'s key must be ECDSA P-256, not ECDSA P-384');
    expect(((await refusal(await tampered())) as Error).message).toBe('the certificate request is not signed by its own key');
  });
});
