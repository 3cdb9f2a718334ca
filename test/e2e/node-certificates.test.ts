// Nodes' client certificates (--node-certificates), as a broker would check
// them with openssl: each registered node holds one named after it, signed by
// the manager's CA for client authentication; it is renewed before it expires
// (the one before expires on its own); a node given a new credential loses
// its old certificates to the revocation list (whoever copied one off the
// machine), and an operator can revoke a node's certificates. The certificate
// is also what the manager's gRPC and its embedded broker know the node by: a
// call or a CONNECT that shows it needs no credential, and one revoked is
// refused whatever comes with it.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, Metadata } from '@grpc/grpc-js';
import mqtt from 'mqtt';
import type { NodeList } from '@metalfleet/api';
import { AgentService, ClaimVerdict } from '@metalfleet/proto';
import { createClient } from '@metalfleet/transport';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-node-certs-'));
const ttlS = 60;
let manager: ManagerProcess;
let agent: Proc | null = null;
const agentDir = join(dir, 'agent');

const startAgent = () => start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '1', '--simulate-seed', 'certs', '--state-dir', agentDir, '--kernel-cmdline', '/nonexistent']);

/** The simulated node's state directory (the one holding its credential). */
function nodeDir(): string {
  const found = readdirSync(agentDir, { recursive: true, encoding: 'utf8' }).find((path) => path.endsWith('credential.json'));
  if (!found) throw new Error('the agent saved no credential');
  return join(agentDir, found, '..');
}

/** What openssl says of the node's certificate against the manager's CA and its revocation list. */
function verify(certFile: string): string {
  try {
    return execFileSync('openssl', ['verify', '-CAfile', manager.caFile, '-crl_check', '-CRLfile', join(manager.dataDir, 'pki', 'nodes.crl'), '-purpose', 'sslclient', certFile],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    return `${String((error as { stdout?: string }).stdout ?? '')}${String((error as { stderr?: string }).stderr ?? '')}`;
  }
}

/** A node's key and certificate, copied off its disk as its root (a tenant) can. */
function copyIdentity(): { keyPem: string; certPem: string } {
  // The agent renames the new certificate into place a moment before its key: read until they match.
  for (;;) {
    const identity = { keyPem: readFileSync(join(nodeDir(), 'client.key'), 'utf8'), certPem: readFileSync(join(nodeDir(), 'client.crt'), 'utf8') };
    if (new X509Certificate(identity.certPem).checkPrivateKey(createPrivateKey(identity.keyPem))) return identity;
  }
}

/** A command claim over mutual TLS with `identity`, naming `nodeId` in the metadata when given, and no credential: the verdict or the error. */
async function claimWith(identity: { keyPem: string; certPem: string }, nodeId = ''): Promise<string> {
  const ca = readFileSync(manager.caFile);
  const { client, close } = createClient(AgentService, manager.grpc, credentials.createSsl(ca, Buffer.from(identity.keyPem), Buffer.from(identity.certPem)));
  const metadata = new Metadata();
  if (nodeId !== '') metadata.set('x-metalfleet-node-id', nodeId);
  try {
    return ClaimVerdict[(await client.claimCommand({ commandId: 'no-such-command' }, { metadata, deadlineMs: 10_000 })).verdict] ?? 'none';
  } catch (error) {
    return `${String((error as { code?: string }).code)}: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    close();
  }
}

/** A CONNECT to the embedded broker as `nodeId` with `identity` and no password: 'connected' or the error. */
async function connectWith(identity: { keyPem: string; certPem: string }, nodeId: string): Promise<string> {
  try {
    const client = await mqtt.connectAsync(manager.mqtt, {
      clientId: nodeId, username: nodeId, ca: readFileSync(manager.caFile, 'utf8'), key: identity.keyPem, cert: identity.certPem, reconnectPeriod: 0, connectTimeout: 10_000,
    });
    await client.endAsync(true);
    return 'connected';
  } catch (error) {
    return String(error);
  }
}

beforeAll(async () => {
  manager = new ManagerProcess(join(dir, 'manager'), ['--node-certificates', 'true', '--node-certificate-ttl-s', String(ttlS)]);
  await manager.start();
  agent = startAgent();
}, 60_000);

afterAll(async () => {
  await agent?.stop('SIGKILL');
  await manager?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('node client certificates', { timeout: 120_000 }, () => {
  it('gives each node a certificate named after it, and renews it before it expires', async () => {
    const nodes = await eventually(() => manager.nodes(), (l: NodeList) => l.items.length === 1, 45_000);
    const nodeId = nodes.items[0]?.id ?? '';
    // The manager lists the node as soon as it is stored, a moment before the agent has saved its credential.
    const savedDir = async () => (readdirSync(agentDir, { recursive: true, encoding: 'utf8' }).some((p) => p.endsWith('credential.json')) ? nodeDir() : '');
    const certFile = join(await eventually(savedDir, (d) => d !== '' && existsSync(join(d, 'client.crt')), 30_000), 'client.crt');
    const first = new X509Certificate(readFileSync(certFile));
    expect(first.subject).toBe(`CN=${nodeId}`);
    expect(first.checkIssued(new X509Certificate(readFileSync(manager.caFile)))).toBe(true);
    expect((new Date(first.validTo).getTime() - Date.now()) / 1000).toBeLessThanOrEqual(ttlS);
    expect(verify(certFile)).toContain(': OK');
    const firstPem = readFileSync(certFile, 'utf8');

    // Two thirds of 60 s: a new key and certificate; the first one is not revoked, it expires on its own.
    await eventually(async () => readFileSync(certFile, 'utf8'), (pem) => pem !== firstPem, 60_000);
    expect(new X509Certificate(readFileSync(certFile)).subject).toBe(`CN=${nodeId}`);
    expect(verify(certFile)).toContain(': OK');
    const old = join(dir, 'first.crt');
    writeFileSync(old, firstPem);
    expect(verify(old)).toContain(': OK');
  });

  it('knows the node by its certificate on gRPC and the embedded broker, with no credential, and only as that node', async () => {
    const identity = copyIdentity();
    const nodeId = new X509Certificate(identity.certPem).subject.replace('CN=', '');
    expect(await claimWith(identity)).toBe('UNKNOWN');
    expect(await claimWith(identity, nodeId)).toBe('UNKNOWN');
    expect(await claimWith(identity, 'another-node')).toMatch(/^unauthenticated: the call names node another-node/);
    expect(await connectWith(identity, 'another-node')).toMatch(/Bad username or password/i);
    expect(await connectWith(identity, nodeId)).toBe('connected');
  });

  it('revokes a node\'s certificate when the node gets a new credential (its disk wiped, approved again by an operator)', async () => {
    const certFile = join(nodeDir(), 'client.crt');
    const before = readFileSync(certFile, 'utf8');
    const copiedIdentity = copyIdentity();
    await agent?.stop('SIGKILL');
    rmSync(join(nodeDir(), 'credential.json'));
    const copied = join(dir, 'copied.crt');
    writeFileSync(copied, before);
    expect(verify(copied)).toContain(': OK');
    agent = startAgent();
    // A known machine without its credential waits for an operator, who says it is this node: a fresh credential.
    const conflict = await eventually(() => manager.request<{ items: Array<{ id: string; nodeIds: string[] }> }>('GET', '/api/v1/identity-conflicts?status=open'),
      (r) => r.items.length === 1, 45_000);
    const nodeId = new X509Certificate(before).subject.replace('CN=', '');
    await manager.request('POST', `/api/v1/identity-conflicts/${conflict.items[0]?.id ?? ''}/approve`, { nodeId });
    await eventually(async () => readFileSync(certFile, 'utf8'), (pem) => pem !== before, 60_000);
    expect(verify(copied)).toContain('certificate revoked');
    expect(verify(certFile)).toContain(': OK');
    // The manager refuses it too, on gRPC and on its broker.
    expect(await claimWith(copiedIdentity)).toMatch(/^unauthenticated: client certificate revoked/);
    expect(await connectWith(copiedIdentity, nodeId)).toMatch(/Bad username or password/i);
    expect(await claimWith(copyIdentity())).toBe('UNKNOWN');

    // An operator revokes the node's certificates (a machine thought compromised).
    const current = join(dir, 'current.crt');
    writeFileSync(current, readFileSync(certFile));
    const revokedPem = readFileSync(certFile, 'utf8');
    expect(await manager.request('POST', `/api/v1/nodes/${nodeId}/revoke-certificates`)).toEqual({ revoked: 1 });
    expect(verify(current)).toContain('certificate revoked');
    // The broker closes the node's connection; refused on reconnecting, its agent asks for a new certificate at once.
    await eventually(async () => readFileSync(certFile, 'utf8'), (pem) => pem !== revokedPem, 30_000);
    await eventually(() => manager.nodes(), (l: NodeList) => l.items[0]?.presence === 'online', 30_000);
    expect(await claimWith(copyIdentity())).toBe('UNKNOWN');
    await expect(manager.request('POST', '/api/v1/nodes/no-such-node/revoke-certificates')).rejects.toThrow(/HTTP 404/);

    // Retired (by an operator here; acceptance retires repeat offenders the same way): its certificates go with it.
    const renewed = join(dir, 'renewed.crt');
    writeFileSync(renewed, readFileSync(certFile));
    expect(verify(renewed)).toContain(': OK');
    await manager.request('POST', `/api/v1/nodes/${nodeId}/retire`, { reason: 'end of life' });
    expect(verify(renewed)).toContain('certificate revoked');
  });
});
