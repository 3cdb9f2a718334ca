// The embedded broker with nodes' client certificates (--node-certificates):
// a node may show the certificate the manager signed for it instead of its
// password; one revoked, another CA's, or another node's is refused, whatever
// password comes with it, and a node without a certificate still uses its password.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { createNodeBroker, type BrokerEvent, type NodeBroker } from './mqtt-broker.ts';
import { issueManagerClientCertificate } from './node-certificates.ts';
import { ensureCertificateAuthority, issueServerCertificate, type CertificateAuthority } from './pki.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-broker-certs-'));
let ca: CertificateAuthority;
let broker: NodeBroker;
let url: string;
const events: BrokerEvent[] = [];
// What the manager's store says of each serial it issued.
const issued = new Map<string, { nodeId: string; revoked: boolean }>();
type Identity = { keyPem: string; certPem: string };
// The store cannot be asked.
let storeAway = false;

async function certificateFor(authority: CertificateAuthority, nodeId: string, revoked = false): Promise<Identity> {
  const now = new Date();
  const identity = await issueManagerClientCertificate(authority, nodeId, now, new Date(now.getTime() + 3_600_000));
  if (authority === ca) issued.set(new X509Certificate(identity.certPem).serialNumber.toLowerCase(), { nodeId, revoked });
  return identity;
}

beforeAll(async () => {
  ca = await ensureCertificateAuthority(join(dir, 'pki'));
  const server = await issueServerCertificate(ca, ['localhost', '127.0.0.1']);
  broker = await createNodeBroker({
    authenticateNode: async (nodeId, secret) => nodeId === 'node-a' && secret === 'secret-a',
    authenticateCertificate: async ({ commonName, serial }) => {
      if (storeAway) throw new Error('connection to the store lost');
      const record = issued.get(serial);
      return record && !record.revoked && record.nodeId === commonName ? record.nodeId : null;
    },
    maxPayloadBytes: 1024,
    onEvent: (e) => events.push(e),
  });
  const address = await broker.listen(0, '127.0.0.1', { keyPem: server.keyPem, chainPem: server.chainPem, clientCaPem: ca.certPem });
  url = `mqtts://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

function connect(nodeId: string, identity: Identity | null, password?: string) {
  return mqtt.connectAsync(url, {
    clientId: nodeId, username: nodeId, ...(password ? { password } : {}), ca: ca.certPem, ...(identity ? { key: identity.keyPem, cert: identity.certPem } : {}),
    reconnectPeriod: 0, connectTimeout: 5000,
  });
}

describe('embedded broker, nodes with client certificates', () => {
  it('takes a node\'s own certificate without a password, and it may publish as that node', async () => {
    const client = await connect('node-a', await certificateFor(ca, 'node-a'));
    await client.publishAsync('mf/v1/nodes/node-a/status', Buffer.from('online'), { qos: 1 });
    await client.endAsync();
  });

  it('refuses a revoked certificate, another CA\'s, and another node\'s, even with the right password', async () => {
    await expect(connect('node-a', await certificateFor(ca, 'node-a', true), 'secret-a')).rejects.toThrow(/Bad username or password/i);
    await expect(connect('node-a', await certificateFor(await ensureCertificateAuthority(join(dir, 'other')), 'node-a'))).rejects.toThrow(/Bad username or password/i);
    await expect(connect('node-a', await certificateFor(ca, 'node-b'), 'secret-a')).rejects.toThrow(/Bad username or password/i);
    // A certificate the manager never issued to a node (the manager's own broker identity, say).
    await expect(connect('metalfleet-manager', await issueManagerClientCertificate(ca, 'metalfleet-manager', new Date(), new Date(Date.now() + 60_000)))).rejects.toThrow(/Bad username or password/i);
    expect(events.filter((e) => e.type === 'auth-failed').map((e) => (e as { reason: string }).reason)).toEqual(expect.arrayContaining([
      'client certificate revoked, expired or not issued to a node', 'the client certificate is node node-b\'s',
    ]));
  });

  it('answers "server unavailable", not "bad credentials", when the certificate cannot be checked (the node must not register again)', async () => {
    const identity = await certificateFor(ca, 'node-a');
    storeAway = true;
    try {
      await expect(connect('node-a', identity)).rejects.toThrow(/Server unavailable/i);
    } finally {
      storeAway = false;
    }
    await (await connect('node-a', identity)).endAsync();
  });

  it('closes a node\'s connection when told its certificates were revoked', async () => {
    const client = await connect('node-a', await certificateFor(ca, 'node-a'));
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    broker.disconnectNode?.('node-b');
    broker.disconnectNode?.('node-a');
    await closed;
    client.end(true);
  });

  it('still takes the password of a node that has no certificate yet, and nothing from one with neither', async () => {
    await (await connect('node-a', null, 'secret-a')).endAsync();
    await expect(connect('node-a', null)).rejects.toThrow(/Bad username or password/i);
  });
});
