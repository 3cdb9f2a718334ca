// The agent dials the manager by IP address over TLS (the usual case: an
// address from the kernel command line). grpc-js would send that IP as the TLS
// server name, which RFC 6066 forbids and Node warns about at every agent start
// (DEP0123, grpc/grpc-node#1919); the agent sends a plain name instead and must
// still check the manager's certificate against the address it dialled, never
// against that name.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { AgentService } from '@metalfleet/proto';
import { addService } from '@metalfleet/transport';
import { ensureCertificateAuthority, issueServerCertificate, type CertificateAuthority } from '@metalfleet/manager-transport';
import { managerCredentials, openManagerConnection, serverNameForIpAddress } from '@metalfleet/agent-runtime';

const dir = mkdtempSync(join(tmpdir(), 'mf-agent-tls-name-'));
const servers: Server[] = [];
let ca: CertificateAuthority;
const warnings: string[] = [];
const onWarning = (warning: Error & { code?: string }) => void warnings.push(`${warning.code ?? ''} ${warning.message}`);

/** A manager-like gRPC server whose certificate names these hosts. */
async function managerFor(hosts: string[]): Promise<string> {
  const cert = await issueServerCertificate(ca, hosts);
  const server = new Server();
  addService(server, AgentService, {
    register: async () => ({ nodeId: 'reached' }), updateInventory: async () => ({}), claimCommand: async () => ({}), issueCertificate: async () => ({}),
  });
  servers.push(server);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0',
    ServerCredentials.createSsl(null, [{ private_key: Buffer.from(cert.keyPem), cert_chain: Buffer.from(cert.chainPem) }], false), (e, p) => (e ? reject(e) : resolve(p))));
  return `127.0.0.1:${port}`;
}

const register = async (address: string) => {
  const connection = openManagerConnection(address, { caPem: ca.certPem, grpc: managerCredentials(ca.certPem, '127.0.0.1') }, { initialMs: 100, maxMs: 500 });
  try {
    return (await connection.client.register({}, { deadlineMs: 3000 })).nodeId;
  } finally {
    connection.close();
  }
};

beforeAll(async () => {
  process.on('warning', onWarning);
  ca = await ensureCertificateAuthority(join(dir, 'pki'));
});

afterAll(() => {
  process.off('warning', onWarning);
  for (const server of servers) server.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

describe('the agent dialling the manager by IP address over TLS', () => {
  it('reaches a manager whose certificate names that address, without a DEP0123 warning', async () => {
    expect(await register(await managerFor(['127.0.0.1']))).toBe('reached');
    expect(warnings.filter((w) => w.includes('DEP0123'))).toEqual([]);
  });

  it('refuses a certificate of the same CA that names another address, or only the server name it sends', async () => {
    await expect(register(await managerFor(['127.0.0.2', 'localhost']))).rejects.toThrow(/ERR_TLS_CERT_ALTNAME_INVALID.*IP: 127\.0\.0\.1 is not in the cert's list: 127\.0\.0\.2/);
    await expect(register(await managerFor([serverNameForIpAddress]))).rejects.toThrow(/ERR_TLS_CERT_ALTNAME_INVALID.*IP: 127\.0\.0\.1 is not in the cert's list/);
  });
});
