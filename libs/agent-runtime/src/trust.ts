// How the agent trusts the manager: a CA file it was given, or the CA pinned by
// the fingerprint inside the bootstrap token (fetched once, kept in the state
// directory), or — with a token that carries no fingerprint — plain TCP.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { parseBootstrapToken } from '@metalfleet/domain';
import { fetchPinnedCa, fingerprintOf } from '@metalfleet/transport';

export interface ManagerTrust {
  /** PEM of the CA that signs the manager's certificate; null: no TLS. */
  caPem: string | null;
  grpc: ChannelCredentials;
}

// Many simulated nodes in one process pin the same CA: fetch it once.
const pinned = new Map<string, Promise<string>>();

// One credentials object per CA: grpc-js builds one TLS context for it, not one per node.
const byCa = new Map<string, ManagerTrust>();

function tls(caPem: string): ManagerTrust {
  let trust = byCa.get(caPem);
  if (!trust) {
    trust = { caPem, grpc: credentials.createSsl(Buffer.from(caPem)) };
    byCa.set(caPem, trust);
  }
  return trust;
}

export async function establishTrust(options: { caFile: string; stateDir: string; token: string; host: string; port: number }): Promise<ManagerTrust> {
  if (options.caFile !== '') return tls(readFileSync(options.caFile, 'utf8'));
  const pin = parseBootstrapToken(options.token)?.caFingerprint ?? null;
  if (pin === null) return { caPem: null, grpc: credentials.createInsecure() };
  const cached = join(options.stateDir, 'manager-ca.pem');
  if (existsSync(cached)) {
    const pem = readFileSync(cached, 'utf8');
    if (fingerprintOf(pem) === pin) return tls(pem);
  }
  const key = `${options.host}:${options.port}:${pin}`;
  if (!pinned.has(key)) pinned.set(key, fetchPinnedCa(options.host, options.port, pin).catch((error: unknown) => {
    pinned.delete(key);
    throw error;
  }));
  const pem = await (pinned.get(key) as Promise<string>);
  writeFileSync(cached, pem);
  return tls(pem);
}
