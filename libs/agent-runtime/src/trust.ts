// How the agent trusts the manager: a CA file it was given, or the CA pinned by
// the fingerprint inside the bootstrap token (fetched once, kept in the state
// directory), or — with a token that carries no fingerprint — plain TCP.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { checkServerIdentity } from 'node:tls';
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

/**
 * grpc-js sends the host it dials as the TLS server name (SNI), which RFC 6066 forbids for an IP address and Node
 * warns about at every agent start (DEP0123; grpc/grpc-node#1919). Dialling an IP, the agent names the server this
 * instead (managerChannelOptions) and still checks the manager's certificate against the address it dialled.
 */
export const serverNameForIpAddress = 'metalfleet-manager';

/** TLS credentials for the manager at `host`, with the node's own certificate when it has one. */
export function managerCredentials(caPem: string, host: string, client?: { keyPem: string; certPem: string }): ChannelCredentials {
  const verify = isIP(host) === 0 ? {} : { checkServerIdentity: (_serverName: string, cert: Parameters<typeof checkServerIdentity>[1]) => checkServerIdentity(host, cert) };
  return credentials.createSsl(Buffer.from(caPem), client ? Buffer.from(client.keyPem) : null, client ? Buffer.from(client.certPem) : null, verify);
}

// One credentials object per CA and host: grpc-js builds one TLS context for it, not one per node.
const byCa = new Map<string, ManagerTrust>();

function tls(caPem: string, host: string): ManagerTrust {
  const key = `${host}\n${caPem}`;
  let trust = byCa.get(key);
  if (!trust) {
    trust = { caPem, grpc: managerCredentials(caPem, host) };
    byCa.set(key, trust);
  }
  return trust;
}

export async function establishTrust(options: { caFile: string; stateDir: string; token: string; host: string; port: number }): Promise<ManagerTrust> {
  if (options.caFile !== '') return tls(readFileSync(options.caFile, 'utf8'), options.host);
  const pin = parseBootstrapToken(options.token)?.caFingerprint ?? null;
  if (pin === null) return { caPem: null, grpc: credentials.createInsecure() };
  const cached = join(options.stateDir, 'manager-ca.pem');
  if (existsSync(cached)) {
    const pem = readFileSync(cached, 'utf8');
    if (fingerprintOf(pem) === pin) return tls(pem, options.host);
  }
  const key = `${options.host}:${options.port}:${pin}`;
  if (!pinned.has(key)) pinned.set(key, fetchPinnedCa(options.host, options.port, pin).catch((error: unknown) => {
    pinned.delete(key);
    throw error;
  }));
  const pem = await (pinned.get(key) as Promise<string>);
  writeFileSync(cached, pem);
  return tls(pem, options.host);
}
