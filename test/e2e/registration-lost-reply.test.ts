// A registration whose reply is lost (the connection drops after the manager
// wrote the node, before the agent read the answer) with a single-use token:
// the agent asks again with the same token and is answered again, instead of
// looping on "no uses left" until the reimage's boot timeout (issue 20). On
// both stores: PostgreSQL lost more replies in the fault runs.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeList } from '@metalfleet/api';
import { agentBin, eventually, managerBin, start, type Proc } from '../support/processes.ts';
import { trustCa } from '../support/manager.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

const postgres = 'postgresql://postgres@127.0.0.1:5432/test';
const schema = `mf_e2e_lost_${randomBytes(4).toString('hex')}`;

describe.each([
  ['SQLite', [] as string[]],
  ['PostgreSQL', ['--postgres-url', postgres, '--postgres-schema', schema]],
])('a first registration whose reply is lost, on %s', (store, storeArgs) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mf-e2e-lost-reply-'));
  let manager: Proc;
  let agent: Proc | undefined;
  let proxy: TcpProxy | undefined;
  let http = '';
  let grpc = '';

  const auth = () => ({ headers: { authorization: `Bearer ${readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()}` } });

  async function nodes(): Promise<NodeList> {
    const response = await fetch(`${http}/api/v1/nodes`, auth());
    expect(response.status).toBe(200);
    return (await response.json()) as NodeList;
  }

  beforeAll(async () => {
    manager = start(managerBin, ['--init', '--data-dir', dataDir, '--listen-host', '127.0.0.1', '--http-port', '0', '--grpc-port', '0', '--mqtt-port', '0',
      '--boot-port', '0', '--telemetry-interval-s', '1', '--heartbeat-grace-s', '5', ...storeArgs]);
    const ready = await manager.waitForLog('manager ready');
    http = String(ready['http']);
    grpc = String(ready['grpc']);
    trustCa(readFileSync(join(dataDir, 'pki', 'ca.crt'), 'utf8'));
  });

  afterAll(async () => {
    await agent?.stop('SIGKILL');
    await proxy?.close();
    await manager?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    if (store === 'PostgreSQL') {
      const client = new pg.Client({ connectionString: postgres });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  });

  it('ends with the agent registered as the node the manager wrote, its single-use token spent once', async () => {
    const created = await fetch(`${http}/api/v1/bootstrap-tokens`, {
      method: 'POST', headers: { ...auth().headers, 'content-type': 'application/json' }, body: JSON.stringify({ description: 'one machine', ttlSeconds: 600, maxUses: 1 }),
    });
    expect(created.status).toBe(201);
    const { id: tokenId, token } = (await created.json()) as { id: string; token: string };
    const tokenFile = join(dataDir, 'single-use-token');
    writeFileSync(tokenFile, token, { mode: 0o600 });

    // The first bytes the manager sends once the node is written are its reply: that connection is dropped.
    let cut = false;
    const [host = '', port = ''] = grpc.replace(/^\w+:\/\//, '').split(':');
    proxy = await startTcpProxy({ host, port: Number(port) }, async () => {
      if (cut || (await nodes()).items.length === 0) return false;
      cut = true;
      return true;
    });
    agent = start(agentBin, ['--manager', proxy.address, '--bootstrap-token-file', tokenFile, '--state-dir', join(dataDir, 'agent'),
      '--retry-initial-ms', '200', '--retry-max-ms', '1000']);

    const registered = await agent.waitForLog(/^registered/);
    expect(proxy.cuts).toBe(1);
    const list = await eventually(nodes, (l) => l.items[0]?.presence === 'online');
    expect(list.items).toHaveLength(1);
    expect(registered['nodeId']).toBe(list.items[0]?.id);
    expect(agent.lines.join('\n')).not.toMatch(/no uses left/);
    // Its retry was answered because it sent the same registration nonce; once the credential is saved, that is gone.
    expect(existsSync(join(dataDir, 'agent', 'registration-nonce.json'))).toBe(false);
    expect(existsSync(join(dataDir, 'agent', 'credential.json'))).toBe(true);
    const tokens = (await (await fetch(`${http}/api/v1/bootstrap-tokens`, auth())).json()) as { items: Array<{ id: string; uses: number }> };
    expect(tokens.items.find((t) => t.id === tokenId)?.uses).toBe(1);
  });
});
