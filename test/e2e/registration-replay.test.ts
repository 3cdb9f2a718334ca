// A captured registration (bootstrap token + identity + registration nonce)
// replayed from another machine after the real node already showed its
// credential. The nonce makes a lost reply retryable (issue 20, guarantee 4),
// but answered after that, the replay got a NEW credential for the node and
// the one the real node holds stopped working: the replayer owned the node's
// identity (its MQTT session, its reports). The retry closes the first time
// the node shows its credential, on MQTT or on a gRPC call
// (libs/fleet/src/services/node-credentials.ts); a lost reply before that is
// still answered again (registration-lost-reply.test.ts).
// Failed before that: the replay got a fresh credential and the real one stopped working.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { credentials, Metadata } from '@grpc/grpc-js';
import { AgentService, ClaimVerdict } from '@metalfleet/proto';
import { createClient } from '@metalfleet/transport';
import { ManagerProcess } from '../support/manager.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-hostile-replay-'));
const manager = new ManagerProcess(join(dir, 'manager'));
let mqttUrl = '';
const ca = () => readFileSync(join(manager.dataDir, 'pki', 'ca.crt'));

beforeAll(async () => {
  await manager.start();
  mqttUrl = String((await manager.proc!.waitForLog('manager ready'))['mqtt']);
}, 60_000);

afterAll(async () => {
  await manager.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function register(request: Record<string, unknown>) {
  const { client, close } = createClient(AgentService, manager.grpc, credentials.createSsl(ca()));
  const result = await client.register(request).catch((e: unknown) => e);
  close();
  return result as { nodeId?: string; nodeCredential?: string; code?: string; message?: string };
}

async function mqttWorks(nodeId: string, credential: string): Promise<boolean> {
  const client = await mqtt.connectAsync(mqttUrl, { clientId: `${nodeId}`, username: nodeId, password: credential, ca: ca(), reconnectPeriod: 0 }).catch(() => null);
  await client?.endAsync();
  return client !== null;
}

async function claimWorks(nodeId: string, credential: string): Promise<boolean> {
  const { client, close } = createClient(AgentService, manager.grpc, credentials.createSsl(ca()));
  const metadata = new Metadata();
  metadata.set('x-metalfleet-node-id', nodeId);
  metadata.set('authorization', `Bearer ${credential}`);
  const answer = await client.claimCommand({ commandId: 'no-such-command' }, { metadata }).catch(() => null);
  close();
  return answer?.verdict === ClaimVerdict.UNKNOWN;
}

async function singleUseRegistration(n: number) {
  const { token } = await manager.request<{ token: string }>('POST', '/api/v1/bootstrap-tokens', { description: 'one machine', maxUses: 1 });
  return {
    identity: { systemUuid: `c0ffee00-0000-4000-8000-00000000000${n}`, systemSerial: `SER-REPLAY-${n}`, macs: [`02:de:ad:00:00:0${n}`] },
    inventory: { system: { hostname: `real-node-${n}` } }, bootstrapToken: token, agentVersion: 'real', registrationNonce: randomBytes(32).toString('base64url'),
  };
}

describe('a captured registration replayed after the node showed its credential', () => {
  it.each([
    ['on MQTT', 1, mqttWorks],
    ['on a gRPC call', 2, claimWorks],
  ])('gets no credential once the node is online %s, and the real node keeps working', async (_channel, n, shows) => {
    const request = await singleUseRegistration(n);
    const real = await register(request);
    expect(real.nodeId).toBeTruthy();
    // The real node shows its credential.
    expect(await shows(real.nodeId!, real.nodeCredential!)).toBe(true);
    // The captured request, replayed from elsewhere.
    const replay = await register({ ...request, agentVersion: 'replayer' });
    expect(replay).toMatchObject({ code: 'unauthenticated', message: expect.stringMatching(/no uses left/) });
    expect(replay.nodeCredential).toBeUndefined();
    expect(await mqttWorks(real.nodeId!, real.nodeCredential!)).toBe(true);
    expect(await claimWorks(real.nodeId!, real.nodeCredential!)).toBe(true);
  });

  it('is still answered again while the node has not shown its credential (a lost reply)', async () => {
    const request = await singleUseRegistration(3);
    const lost = await register(request);
    const again = await register(request);
    expect(again.nodeId).toBe(lost.nodeId);
    expect(await mqttWorks(again.nodeId!, again.nodeCredential!)).toBe(true);
    expect(await mqttWorks(lost.nodeId!, lost.nodeCredential!)).toBe(false);
  });
});
