// A NUL character (\u0000) in what a node sends, against the real manager on
// both stores: PostgreSQL text cannot hold one (SQLite can), so before this was
// checked a registration, an inventory refresh or a claim carrying one answered
// INTERNAL on PostgreSQL after looking things up. Each is refused at the
// boundary as INVALID_ARGUMENT, naming the field, and nothing changes; so is
// an operator's API request carrying one (400).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, Metadata } from '@grpc/grpc-js';
import { AgentService } from '@metalfleet/proto';
import { createClient } from '@metalfleet/transport';
import { ManagerProcess } from '../support/manager.ts';

const postgres = 'postgresql://postgres@127.0.0.1:5432/test';
const schema = `mf_e2e_nul_${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'mf-nul-'));
const managers = {
  SQLite: new ManagerProcess(join(dir, 'sqlite')),
  PostgreSQL: new ManagerProcess(join(dir, 'postgres'), ['--postgres-url', postgres, '--postgres-schema', schema]),
};

afterAll(async () => {
  for (const manager of Object.values(managers)) await manager.stop();
  const client = new pg.Client({ connectionString: postgres });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
  rmSync(dir, { recursive: true, force: true });
});

const identity = (serial: string) => ({ systemUuid: '', systemSerial: serial, chassisSerial: '', boardSerial: '', macs: ['0c:42:a1:00:00:01'], bmcAddress: '' });
const inventory = (gpuModel: string) => ({ system: { hostname: 'gpu-001' }, gpus: [{ index: 0, model: gpuModel }] });
const nonce = () => randomBytes(32).toString('base64url');

describe.each(Object.entries(managers))('a NUL from a node, on %s', (_store, manager) => {
  let client: ReturnType<typeof createClient<typeof AgentService>>['client'];
  let close = () => undefined as void;
  let token = '';

  beforeAll(async () => {
    await manager.start();
    ({ client, close } = createClient(AgentService, manager.grpc, credentials.createSsl(readFileSync(join(manager.dataDir, 'pki', 'ca.crt')))));
    token = readFileSync(manager.tokenFile, 'utf8').trim();
  });
  afterAll(() => close());

  it('in a registration (inventory, identity, agent version) is INVALID_ARGUMENT naming the field, and registers nothing', async () => {
    const register = (changes: Record<string, unknown>) => client.register({
      identity: identity('SN-1'), inventory: inventory('H100'), bootstrapToken: token, agentVersion: '0.1.0', registrationNonce: nonce(), ...changes,
    });
    await expect(register({ inventory: inventory('H100\u0000') })).rejects.toMatchObject({ code: 'invalid-argument', message: expect.stringMatching(/inventory\.gpus\[0\]\.model holds a NUL/) });
    await expect(register({ identity: identity('SN\u00001') })).rejects.toMatchObject({ code: 'invalid-argument', message: expect.stringMatching(/system serial holds a NUL/) });
    await expect(register({ agentVersion: '0.1\u0000' })).rejects.toMatchObject({ code: 'invalid-argument', message: expect.stringMatching(/agent version holds a NUL/) });
    expect((await manager.nodes()).items).toEqual([]);
  });

  it('in an inventory refresh or a claim is INVALID_ARGUMENT, and changes nothing', async () => {
    const registered = await client.register({ identity: identity('SN-1'), inventory: inventory('H100'), bootstrapToken: token, agentVersion: '0.1.0', registrationNonce: nonce() });
    const metadata = new Metadata();
    metadata.set('x-metalfleet-node-id', registered.nodeId);
    metadata.set('authorization', `Bearer ${registered.nodeCredential}`);
    await expect(client.updateInventory({ inventory: inventory('H100\u0000') }, { metadata })).rejects.toMatchObject({ code: 'invalid-argument', message: expect.stringMatching(/holds a NUL/) });
    await expect(client.claimCommand({ commandId: 'cmd\u0000' }, { metadata })).rejects.toMatchObject({ code: 'invalid-argument', message: expect.stringMatching(/command id holds a NUL/) });
    const node = await manager.get<{ inventory: { gpus: Array<{ model: string }> } }>(`/api/v1/nodes/${registered.nodeId}`);
    expect(node.inventory.gpus.map((g) => g.model)).toEqual(['H100']);
  });

  it('in an API request (body, path) is 400 invalid-argument, and changes nothing', async () => {
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${manager.http}${path}`, {
        method, headers: manager.auth(body === undefined ? {} : { 'content-type': 'application/json' }), ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: await response.json() as { error?: { code: string; message: string } } };
    };
    const tokens = async () => (await call('GET', '/api/v1/bootstrap-tokens')).body;
    const before = await tokens();
    expect(await call('POST', '/api/v1/bootstrap-tokens', { description: 'rack 12\u0000' })).toEqual({ status: 400, body: { error: { code: 'invalid-argument', message: 'body.description holds a NUL character' } } });
    expect(await call('GET', '/api/v1/nodes/n%00')).toEqual({ status: 400, body: { error: { code: 'invalid-argument', message: 'path.id holds a NUL character' } } });
    expect(await tokens()).toEqual(before);
  });
});
