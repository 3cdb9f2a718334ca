// One real node registering with a real manager: both started as separate
// processes from their bins, talking gRPC and MQTT over loopback.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials } from '@grpc/grpc-js';
import { AgentService } from '@metalfleet/proto';
import { createClient } from '@metalfleet/transport';
import type { NodeDetail, NodeList } from '@metalfleet/api';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { agentBin, cliBin, eventually, managerBin, start, type Proc } from '../support/processes.ts';
import { physicalMacs, systemUuid } from '../support/machine.ts';
import { trustCa } from '../support/manager.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'mf-e2e-'));
const managerArgs = ['--data-dir', dataDir, '--listen-host', '127.0.0.1', '--http-port', '0', '--grpc-port', '0', '--mqtt-port', '0',
  '--boot-port', '0', '--telemetry-interval-s', '1', '--heartbeat-grace-s', '5',
  // The agent reads this machine, which has no GPU: no SKU profile fits it, and acceptance (on by default) would send
  // it to repair. Registration and inspection are what this file tests.
  '--acceptance', 'off'];
let manager: Proc;
let http: string;
let grpc: string;
const agents: Proc[] = [];

/** The first start sets up the manager (--init); a restart (with the ports) finds its state. */
async function startManager(ports: string[] = []): Promise<void> {
  manager = start(managerBin, [...managerArgs, ...(ports.length === 0 ? ['--init'] : []), ...ports]);
  const ready = await manager.waitForLog('manager ready');
  http = String(ready['http']);
  grpc = String(ready['grpc']);
  trustCa(readFileSync(caFile(), 'utf8')); // the API is HTTPS with a certificate from the manager's CA
}

const caFile = () => join(dataDir, 'pki', 'ca.crt');

/** The ports the running manager got, to start the next one where agents expect it. */
function samePorts(): string[] {
  const ready = JSON.parse(manager.lines.find((l) => l.includes('"manager ready"')) ?? '{}') as Record<string, string>;
  const port = (url: string | undefined) => String(url ?? '').split(':').at(-1) ?? '0';
  return ['--http-port', port(ready['http']), '--grpc-port', port(ready['grpc']), '--mqtt-port', port(ready['mqtt']), '--boot-port', port(ready['boot'])];
}

function startAgent(): Proc {
  const agent = start(agentBin, ['--manager', grpc, '--bootstrap-token-file', join(dataDir, 'bootstrap-token'), '--state-dir', join(dataDir, 'agent'),
    '--retry-initial-ms', '200', '--retry-max-ms', '1000']);
  agents.push(agent);
  return agent;
}

/** As the admin whose token the manager wrote at its first start. */
const auth = () => ({ headers: { authorization: `Bearer ${readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()}` } });

async function nodes(): Promise<NodeList> {
  const response = await fetch(`${http}/api/v1/nodes`, auth());
  expect(response.status).toBe(200);
  return (await response.json()) as NodeList;
}

beforeAll(() => startManager());

afterAll(async () => {
  for (const agent of agents) await agent.stop('SIGKILL');
  await manager?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('a node registering end to end', () => {
  let nodeId = '';

  it('appears in GET /api/v1/nodes with this machine\'s system UUID and MACs, online', async () => {
    const agent = startAgent();
    await agent.waitForLog('registered as a new node');
    const list = await eventually(nodes, (l) => l.items.length === 1 && l.items[0]?.presence === 'online');
    const node = list.items[0]!;
    nodeId = node.id;
    expect(node.identity.systemUuid).toBe(systemUuid());
    expect(node.identity.macs).toEqual(physicalMacs());
    // Registered in the discovery image: inspected, and available once its first health digest is not critical.
    const inspected = await eventually(nodes, (l) => l.items[0]?.state === 'available');
    expect(inspected.items[0]?.state).toBe('available');
    const history = (await (await fetch(`${http}/api/v1/nodes/${nodeId}/history`, auth())).json()) as { items: Array<{ event: string; actor: string }> };
    expect(history.items.map((t) => `${t.event} by ${t.actor}`)).toEqual(['inspect by registration', 'inspection-passed by inspection']);

    const detail = (await (await fetch(`${http}/api/v1/nodes/${nodeId}`, auth())).json()) as NodeDetail;
    expect(detail.inventory.nics.map((n) => n.mac).sort()).toEqual(expect.arrayContaining(physicalMacs()));
    expect(detail.inventory.cpus.length).toBeGreaterThan(0);
    expect(detail.history.map((t) => t.event)).toEqual(['inspect', 'inspection-passed']);
    expect(detail.conditions.every((c) => c.severity !== 'critical')).toBe(true);
  });

  it('is listed by the operator CLI after login, as a table and as JSON; without a token the CLI exits 4', async () => {
    const run = promisify(execFile);
    const home = mkdtempSync(join(tmpdir(), 'mf-cli-home-'));
    // A clean environment: nothing but the config directory of this test.
    const env = { PATH: process.env['PATH'] ?? '', XDG_CONFIG_HOME: home, METALFLEET_CA_FILE: caFile() };
    const denied = await run(process.execPath, [cliBin, '--manager', http, 'nodes', 'ls'], { env }).catch((e: { code: number; stderr: string }) => e);
    expect(denied).toMatchObject({ code: 4, stderr: expect.stringContaining('API token missing') });
    const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    const login = await run(process.execPath, [cliBin, '--manager', http, '--token', token, 'login'], { env });
    expect(login.stdout).toContain(`logged in to ${http}`);
    expect(statSync(join(home, 'metalfleet', 'config.json')).mode & 0o777).toBe(0o600);
    const table = await run(process.execPath, [cliBin, 'nodes', 'ls'], { env });
    expect(table.stdout).toMatch(new RegExp(`^${nodeId}\\s+\\S+\\s+online\\s+available`, 'm'));
    const json = JSON.parse((await run(process.execPath, [cliBin, '--json', 'nodes', 'show', nodeId], { env })).stdout) as NodeDetail;
    expect(json.identity.macs).toEqual(physicalMacs());
    const missing = await run(process.execPath, [cliBin, 'nodes', 'show', 'no-such-node'], { env }).catch((e: { code: number; stderr: string }) => e);
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining('(not-found)') });
    const wrong = await run(process.execPath, [cliBin, '--token', `mfat.wrongtoken.${'x'.repeat(43)}`, 'nodes', 'ls'], { env }).catch((e: { code: number; stderr: string }) => e);
    expect(wrong).toMatchObject({ code: 4, stderr: expect.stringContaining('API token unknown') });
    rmSync(home, { recursive: true, force: true });
  });

  it('is shown offline as soon as the agent is killed', async () => {
    await agents[0]!.stop('SIGKILL');
    const list = await eventually(nodes, (l) => l.items[0]?.presence === 'offline', 10_000);
    expect(list.items).toHaveLength(1);
  });

  it('keeps its node id when the agent comes back, and comes back online', async () => {
    const agent = startAgent();
    await agent.waitForLog('registered again (known machine)');
    const list = await eventually(nodes, (l) => l.items[0]?.presence === 'online');
    expect(list.items.map((n) => n.id)).toEqual([nodeId]);
  });

  it('loses nothing across a manager restart: same node, and the agent is online again', async () => {
    const ports = samePorts();
    await manager.stop();
    await startManager(ports);
    const list = await eventually(nodes, (l) => l.items[0]?.presence === 'online', 30_000);
    expect(list.items.map((n) => n.id)).toEqual([nodeId]);
  });

  it('refuses a registration with a wrong bootstrap token, creating nothing', async () => {
    const ca = readFileSync(join(dataDir, 'pki', 'ca.crt'));
    const { client, close } = createClient(AgentService, grpc, credentials.createSsl(ca));
    const error = await client.register({ identity: { systemUuid: 'aaaaaaaa-0000-4000-8000-000000000001' }, bootstrapToken: 'not-the-token' }).catch((e: unknown) => e);
    close();
    expect(error).toMatchObject({ code: 'unauthenticated', message: 'bootstrap token malformed' });
    expect((await nodes()).items.map((n) => n.id)).toEqual([nodeId]);
    expect(readFileSync(join(dataDir, 'bootstrap-token'), 'utf8').trim()).not.toBe('not-the-token');
  });

  it('serves the dashboard', async () => {
    const page = await fetch(`${http}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>metalfleet</title>');
    // Its icon, also where browsers look first (issue 23: /favicon.ico was a 404).
    const icon = await fetch(`${http}/favicon.ico`);
    expect([icon.status, icon.headers.get('content-type')]).toEqual([200, 'image/svg+xml']);
  });

  it('answers 404 with a stable code for an unknown node and 400 for a malformed id', async () => {
    const missing = await fetch(`${http}/api/v1/nodes/no-such-node`, auth());
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not-found' } });
    const malformed = await fetch(`${http}/api/v1/nodes/${encodeURIComponent('../etc')}`, auth());
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { code: 'invalid-argument' } });
  });
});
