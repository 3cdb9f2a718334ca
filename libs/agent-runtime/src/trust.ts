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

export async function establishTrust(options: { caFile: string; stateDir: string; token: string; host: string; port: number }): Promise<ManagerTrust> {
  const tls = (caPem: string): ManagerTrust => ({ caPem, grpc: credentials.createSsl(Buffer.from(caPem)) });
  if (options.caFile !== '') return tls(readFileSync(options.caFile, 'utf8'));
  const pin = parseBootstrapToken(options.token)?.caFingerprint ?? null;
  if (pin === null) return { caPem: null, grpc: credentials.createInsecure() };
  const cached = join(options.stateDir, 'manager-ca.pem');
  if (existsSync(cached)) {
    const pem = readFileSync(cached, 'utf8');
    if (fingerprintOf(pem) === pin) return tls(pem);
  }
  const pem = await fetchPinnedCa(options.host, options.port, pin);
  writeFileSync(cached, pem);
  return tls(pem);
}
