// The manager as gatekeeper, over its real TLS listeners: pinned CA, operator
// tokens, and a broker that keeps each node to its own topics.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import mqtt from 'mqtt';
import { credentials } from '@grpc/grpc-js';
import { AgentService } from '@metalfleet/proto';
import { createClient } from '@metalfleet/transport';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-sec-'));
const manager = new ManagerProcess(join(dir, 'manager'));
const agents: Proc[] = [];
let ready: Record<string, unknown>;

beforeAll(async () => {
  await manager.start();
  ready = await manager.proc!.waitForLog('manager ready');
  agents.push(start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '2', '--state-dir', join(dir, 'agents'),
    '--retry-initial-ms', '200', '--retry-max-ms', '500', '--kernel-cmdline', '/nonexistent']));
  await eventually(() => manager.nodes(), (l) => l.items.filter((n) => n.presence === 'online').length === 2);
});

afterAll(async () => {
  for (const a of agents) await a.stop('SIGKILL');
  await manager.stop();
  rmSync(dir, { recursive: true, force: true });
});

const ca = () => readFileSync(join(manager.dataDir, 'pki', 'ca.crt'));
const saved = (n: number) => JSON.parse(readFileSync(join(dir, 'agents', `sim-00${n}`, 'credential.json'), 'utf8')) as { nodeId: string; credential: string };
const mqttPort = () => Number(String(ready['mqtt']).split(':').at(-1));

async function register(token: string) {
  const { client, close } = createClient(AgentService, manager.grpc, credentials.createSsl(ca()));
  const result = await client.register({ identity: { systemUuid: 'f00dfeed-0000-4000-8000-00000000abcd' }, bootstrapToken: token }).catch((e: unknown) => e);
  close();
  return result;
}

describe('the manager as gatekeeper', () => {
  it('pins its CA in the bootstrap token, and agents keep it with their credential', () => {
    const token = readFileSync(manager.tokenFile, 'utf8').trim();
    expect(token.split('.').at(-1)).toBe(ready['caFingerprint']);
    expect(readFileSync(join(dir, 'agents', 'sim-001', 'manager-ca.pem'), 'utf8')).toBe(ca().toString());
    expect(saved(1).nodeId).not.toBe(saved(2).nodeId);
  });

  it('refuses unknown and revoked tokens with UNAUTHENTICATED and a reason, registering nothing', async () => {
    expect(await register(`mfbt.nosuchid.${'x'.repeat(43)}`)).toMatchObject({ code: 'unauthenticated', message: 'bootstrap token unknown' });
    const created = await fetch(`${manager.http}/api/v1/bootstrap-tokens`, { method: 'POST', headers: manager.auth({ 'content-type': 'application/json' }), body: JSON.stringify({ description: 'to revoke' }) });
    const { id, token } = (await created.json()) as { id: string; token: string };
    expect((await fetch(`${manager.http}/api/v1/bootstrap-tokens/${id}`, { method: 'DELETE', headers: manager.auth() })).status).toBe(204);
    expect(await register(token)).toMatchObject({ code: 'unauthenticated', message: `bootstrap token ${id} was revoked` });
    expect((await manager.nodes()).items).toHaveLength(2);
  });

  it('keeps node A to its own topics when it holds its real credential', async () => {
    const a = saved(1);
    const b = saved(2);
    // This client takes over A's session: the agents are paused meanwhile, or A's would take it straight back (its
    // jittered reconnect comes within 200 ms) and close this client before its SUBACK.
    for (const agent of agents) agent.child.kill('SIGSTOP');
    onTestFinished(() => {
      for (const agent of agents) agent.child.kill('SIGCONT');
    });
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${mqttPort()}`, { clientId: a.nodeId, username: a.nodeId, password: a.credential, ca: ca(), reconnectPeriod: 0 });
    const refused = await client.subscribeAsync(`mf/v1/nodes/${b.nodeId}/commands`, { qos: 1 }).catch((e: { packet?: { granted?: number[] } }) => e);
    expect(refused).toMatchObject({ packet: { granted: [128] } });
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish(`mf/v1/nodes/${b.nodeId}/status`, Buffer.from([0x08, 0x02]), { qos: 1 }); // "offline", spoofed for B
    await closed;
    client.end(true);
    await new Promise((r) => setTimeout(r, 500));
    expect((await manager.nodes()).items.find((n) => n.id === b.nodeId)?.presence).toBe('online');
    expect(manager.proc!.lines.some((l) => l.includes('publish-denied') && l.includes(b.nodeId))).toBe(true);
  });

  it('refuses B\'s credential used as A, and plain TCP on the TLS port', async () => {
    const a = saved(1);
    const b = saved(2);
    await expect(mqtt.connectAsync(`mqtts://127.0.0.1:${mqttPort()}`, { clientId: a.nodeId, username: a.nodeId, password: b.credential, ca: ca(), reconnectPeriod: 0 }))
      .rejects.toThrow(/Bad username or password/i);
    const plain = mqtt.connect(`mqtt://127.0.0.1:${mqttPort()}`, { clientId: a.nodeId, username: a.nodeId, password: a.credential, reconnectPeriod: 0, connectTimeout: 2000 });
    const connected = await new Promise<boolean>((resolve) => {
      plain.once('connect', () => resolve(true));
      plain.once('close', () => resolve(false));
      plain.once('error', () => resolve(false));
    });
    plain.end(true);
    expect(connected).toBe(false);
  });
});
