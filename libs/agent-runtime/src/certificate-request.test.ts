// The agent's certificate request, as openssl reads it: well formed, an EC
// P-256 key, self-signature valid; and the key it keeps is that key.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeKeyAndRequest } from './certificate-request.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-csr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('certificate request', () => {
  it('is a PKCS#10 request openssl verifies, for the P-256 key the agent keeps', () => {
    for (let i = 0; i < 20; i++) {
      const { keyPem, requestPem } = nodeKeyAndRequest();
      writeFileSync(join(dir, 'node.csr'), requestPem);
      const text = execFileSync('openssl', ['req', '-in', join(dir, 'node.csr'), '-noout', '-verify', '-text'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(text).toMatch(/Subject: CN ?= ?metalfleet node/);
      expect(text).toContain('NIST CURVE: P-256');
      const requestKey = execFileSync('openssl', ['req', '-in', join(dir, 'node.csr'), '-noout', '-pubkey'], { encoding: 'utf8' });
      expect(createPublicKey(requestKey).export({ type: 'spki', format: 'pem' })).toBe(createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'pem' }));
    }
  });

  it('fails openssl\'s check once a byte of what was signed changes', () => {
    const { requestPem } = nodeKeyAndRequest();
    const der = Buffer.from(requestPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    // A byte of the public key (inside the signed part): the signature no longer matches.
    der[60] = (der[60] ?? 0) ^ 0x01;
    writeFileSync(join(dir, 'bad.csr'), `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`);
    let output = '';
    try {
      output = execFileSync('openssl', ['req', '-in', join(dir, 'bad.csr'), '-noout', '-verify'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      output = String((error as { stderr?: string }).stderr ?? '') + String((error as { stdout?: string }).stdout ?? '');
    }
    expect(output).not.toMatch(/verify OK/);
  });
});
