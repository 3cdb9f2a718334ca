// Renewing the node's client certificate: over the calls of the certificate it
// replaces (mutual TLS, no credential sent); where the manager refuses that
// certificate (an operator revoked it), with the credential instead.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Metadata } from '@grpc/grpc-js';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import pino from 'pino';
import { DomainError } from '@metalfleet/domain';
import { keepClientCertificate, type ClientCertificate } from './client-certificate.ts';
import type { NodeCall, NodeCalls } from './node-calls.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Calls that record which way each renewal went; `refuseCertificate`: the manager refuses the current certificate. */
function recordingCalls(refuseCertificate: boolean) {
  const asked: string[] = [];
  const used: ClientCertificate[] = [];
  const call = (byCertificate: boolean): NodeCall => ({
    byCertificate,
    metadata: () => new Metadata(),
    client: {
      issueCertificate: async () => {
        asked.push(byCertificate ? 'certificate' : 'credential');
        if (byCertificate && refuseCertificate) throw new DomainError('unauthenticated', 'client certificate revoked, expired or not issued by this manager; register again');
        return { certificate: `cert ${asked.length}`, notAfter: timestampFromDate(new Date(Date.now() + 3_600_000)), brokerToken: '' };
      },
    } as unknown as NodeCall['client'],
  });
  const calls: NodeCalls = { current: () => call(true), byCredential: () => call(false), useCertificate: (c) => void used.push(c), close: () => undefined };
  return { calls, asked, used };
}

async function renewOnce(calls: NodeCalls, used: ClientCertificate[]): Promise<string> {
  const stateDir = mkdtempSync(join(tmpdir(), 'mf-renew-'));
  dirs.push(stateDir);
  const stop = new AbortController();
  // A certificate whose life is over: renewed at once.
  const first: ClientCertificate = { keyPem: '', certPem: 'first', notAfter: new Date(Date.now() - 1000), brokerToken: '' };
  const kept = keepClientCertificate(first, { calls, stateDir, logger: pino({ level: 'silent' }), signal: stop.signal, onRenewed: () => stop.abort() });
  await kept;
  expect(used).toHaveLength(1);
  return readFileSync(join(stateDir, 'client.crt'), 'utf8');
}

describe('client certificate renewal', () => {
  it('asks over mutual TLS with the certificate it replaces, and sends no credential', async () => {
    const { calls, asked, used } = recordingCalls(false);
    expect(await renewOnce(calls, used)).toBe('cert 1');
    expect(asked).toEqual(['certificate']);
  });

  it('asks with the credential when the manager refuses the certificate, and uses the new one from then on', async () => {
    const { calls, asked, used } = recordingCalls(true);
    expect(await renewOnce(calls, used)).toBe('cert 2');
    expect(asked).toEqual(['certificate', 'credential']);
    expect(used[0]?.certPem).toBe('cert 2');
  });
});
