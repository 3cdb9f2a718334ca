// Bad input of every kind against the real manager: malformed protobuf and
// oversized requests on gRPC, garbage and oversized payloads on MQTT, bad JSON
// and unknown ids on REST. Each is refused clearly, nothing changes, and the
// manager keeps serving.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import mqtt from 'mqtt';
import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import { AgentService } from '@metalfleet/proto';
import { createClient } from '@metalfleet/transport';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-bad-'));
// Limits this small leave no room for an acceptance report (its tools' outputs run to about 100 KiB): acceptance off.
const manager = new ManagerProcess(join(dir, 'manager'), ['--grpc-max-message-bytes', '65536', '--max-payload-bytes', '4096', '--acceptance', 'off']);
let agent: Proc;
let ready: Record<string, unknown>;
let snapshot = '';

const ca = () => readFileSync(join(manager.dataDir, 'pki', 'ca.crt'));
const saved = () => JSON.parse(readFileSync(join(dir, 'agent', 'sim-001', 'credential.json'), 'utf8')) as { nodeId: string; credential: string };
const mqttPort = () => Number(String(ready['mqtt']).split(':').at(-1));
const fleetState = async () => JSON.stringify((await manager.nodes()).items.map((n) => [n.id, n.state, n.hostname, n.health]));

beforeAll(async () => {
  await manager.start();
  ready = await manager.proc!.waitForLog('manager ready');
  agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '1', '--state-dir', join(dir, 'agent'),
    '--retry-initial-ms', '200', '--kernel-cmdline', '/nonexistent']);
  await eventually(() => manager.nodes(), (l) => l.items[0]?.state === 'available');
  snapshot = await fleetState();
});

afterAll(async () => {
  await agent.stop('SIGKILL');
  await manager.stop();
  rmSync(dir, { recursive: true, force: true });
});

function rawUnary(bytes: Buffer, metadata = new Metadata()): Promise<{ code: number; details: string }> {
  const client = new Client(manager.grpc, credentials.createSsl(ca()));
  return new Promise((resolve) => {
    client.makeUnaryRequest('/metalfleet.v1.AgentService/Register', (b: Buffer) => b, (b: Buffer) => b, bytes, metadata, {}, (error) => {
      client.close();
      resolve({ code: error?.code ?? 0, details: error?.details ?? '' });
    });
  });
}

describe('bad input against the real manager', () => {
  it('gRPC: malformed protobuf is INVALID_ARGUMENT, an oversized request RESOURCE_EXHAUSTED', async () => {
    expect(await rawUnary(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining('malformed') });
    expect((await rawUnary(Buffer.alloc(200_000, 0x41))).code).toBe(status.RESOURCE_EXHAUSTED);
  });

  it('gRPC: an unknown node id or a spoofed credential cannot update an inventory', async () => {
    const { client, close } = createClient(AgentService, manager.grpc, credentials.createSsl(ca()));
    const metadata = new Metadata();
    metadata.set('x-metalfleet-node-id', saved().nodeId);
    metadata.set('authorization', 'Bearer not-the-credential');
    await expect(client.updateInventory({ inventory: { system: { hostname: 'pwned' } } }, { metadata })).rejects.toMatchObject({ code: 'unauthenticated' });
    const unknown = new Metadata();
    unknown.set('x-metalfleet-node-id', 'no-such-node');
    unknown.set('authorization', `Bearer ${saved().credential}`);
    await expect(client.updateInventory({ inventory: {} }, { metadata: unknown })).rejects.toMatchObject({ code: 'unauthenticated' });
    close();
  });

  it('MQTT: garbage bytes and oversized payloads are refused; the node\'s own garbage is reported, not applied', async () => {
    await new Promise<void>((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: mqttPort(), ca: ca() }, () => socket.end(Buffer.from('GET / HTTP/1.1\r\n\r\n')));
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
    const { nodeId, credential } = saved();
    // This client takes over the node's session: the agent is paused meanwhile, or it would take the session straight
    // back (it reconnects within its 200 ms first retry) and this client's QoS 1 publish would wait for a PUBACK forever.
    agent.child.kill('SIGSTOP');
    onTestFinished(() => void agent.child.kill('SIGCONT'));
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${mqttPort()}`, { clientId: `${nodeId}`, username: nodeId, password: credential, ca: ca(), reconnectPeriod: 0 });
    await client.publishAsync(`mf/v1/nodes/${nodeId}/health`, Buffer.from([0xde, 0xad, 0xbe, 0xef]), { qos: 1 });
    await eventually(async () => manager.proc!.lines.some((l) => l.includes('"bad-message"') && l.includes(nodeId)), (v) => v, 5000);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish(`mf/v1/nodes/${nodeId}/telemetry`, Buffer.alloc(10_000), { qos: 1 });
    await closed;
    client.end(true);
  });

  it('REST: bad JSON, unknown ids and unknown routes get clear errors', async () => {
    const bad = await fetch(`${manager.http}/api/v1/bootstrap-tokens`, { method: 'POST', headers: manager.auth({ 'content-type': 'application/json' }), body: '{"ttlSeconds":' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid-argument' } });
    expect((await fetch(`${manager.http}/api/v1/nodes/no-such-node/health`, { headers: manager.auth() })).status).toBe(404);
    expect((await fetch(`${manager.http}/api/v1/bootstrap-tokens/nosuchtoken`, { method: 'DELETE', headers: manager.auth() })).status).toBe(404);
  });

  it('changed nothing, and still serves', async () => {
    expect((await fetch(`${manager.http}/healthz`)).status).toBe(200);
    expect(await fleetState()).toBe(snapshot);
    expect(manager.proc!.child.exitCode).toBeNull();
  });
});
