// Who may join the fleet, tried as an attacker on the provisioning network
// would, against the real manager over real gRPC and its real boot endpoint:
// partial identities, boot-endpoint tokens used for known nodes, a flood of
// boot requests, a wiped disk that re-enrols only through an operator, and a
// rogue machine that claims to be a perfect spare.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { credentials, Metadata } from '@grpc/grpc-js';
import type { NodeSummary, Tenant } from '@metalfleet/api';
import { AgentService } from '@metalfleet/proto';
import { createClient } from '@metalfleet/transport';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, cliBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-identity-'));
const faultsFile = join(dir, 'faults.json');
const quietFaults = join(dir, 'no-faults.json');
// 2 discovery tokens per MAC, 6 in all, per 15 minutes.
const manager = new ManagerProcess(join(dir, 'manager'), [
  '--discovery-image', 'discovery@1', '--discovery-tokens-per-mac', '2', '--discovery-tokens-max', '6',
  '--telemetry-interval-s', '1', '--health-interval-s', '1', '--health-digest-interval-s', '2', '--command-ack-timeout-s', '3', '--reimage-boot-timeout-s', '10',
  // Admission is what keeps a rogue out of the spares here; with acceptance testing on, a machine whose suite never
  // ran would be kept out by that alone (and killed agents leave nodes accepting for hours), proving nothing.
  '--acceptance', 'off',
]);
const agents: Proc[] = [];
let mqttUrl = '';

type Conflict = { id: string; kind: string; status: string; nodeIds: string[]; reason: string; attempts: number; lastPeer: string; enrolledPeer: string | null };
type Token = { id: string; purpose: string; uses: number; description: string };

const agentArgs = (seed: string, count: number, stateDir: string, tokenFile = manager.tokenFile, faults = quietFaults) => ['--manager', manager.grpc, '--bootstrap-token-file', tokenFile,
  '--simulate', String(count), '--simulate-seed', seed, '--simulate-reboot-ms', '300', '--faults-file', faults, '--state-dir', stateDir,
  '--retry-initial-ms', '200', '--retry-max-ms', '500', '--kernel-cmdline', '/nonexistent'];
const ca = () => readFileSync(join(manager.dataDir, 'pki', 'ca.crt'));
const nodes = async () => (await manager.nodes()).items;
const conflicts = (status = 'open') => manager.get<{ items: Conflict[] }>(`/api/v1/identity-conflicts?status=${status}`).then((r) => r.items);
const tokens = () => manager.get<{ items: Token[] }>('/api/v1/bootstrap-tokens').then((r) => r.items);
const savedIn = async (stateDir: string) => (existsSync(join(stateDir, 'sim-001', 'credential.json')) ? saved(stateDir) : null);
const saved = (stateDir: string) => JSON.parse(readFileSync(join(stateDir, 'sim-001', 'credential.json'), 'utf8')) as { nodeId: string; credential: string };
const boot = (mac: string, base = manager.boot) => fetch(`${base}/boot/ipxe?mac=${mac}`).then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.text() }));
const tokenIn = (script: string) => /metalfleet\.token=(\S+)/.exec(script)?.[1] ?? '';
/** The MACs the agent's simulated machine `index` of `seed` reports (as libs/hardware derives them). */
const simulatedMac = (seed: string, index: number, port = 0) => {
  const hex = createHash('sha256').update(`${seed}:${index}:mac${port}`).digest('hex');
  return ['02', hex.slice(0, 2), hex.slice(2, 4), hex.slice(4, 6), hex.slice(6, 8), hex.slice(8, 10)].join(':');
};

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliBin, '--manager', manager.http, '--ca-file', manager.caFile, '--token', manager.adminToken, ...args], (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function register(identity: Partial<NodeSummary['identity']>, bootstrapToken: string, credential?: { nodeId: string; secret: string }) {
  const { client, close } = createClient(AgentService, manager.grpc, credentials.createSsl(ca()));
  const metadata = new Metadata();
  if (credential) {
    metadata.set('x-metalfleet-node-id', credential.nodeId);
    metadata.set('authorization', `Bearer ${credential.secret}`);
  }
  const result = await client.register({ identity, bootstrapToken, agentVersion: 'attacker' }, { metadata }).catch((e: unknown) => e);
  close();
  return result;
}

/** Whether a node credential still opens the node's MQTT session (the manager did not hand out a new one). */
async function credentialWorks(nodeId: string, credential: string): Promise<boolean> {
  const client = await mqtt.connectAsync(mqttUrl, { clientId: nodeId, username: nodeId, password: credential, ca: ca(), reconnectPeriod: 0 }).catch(() => null);
  await client?.endAsync();
  return client !== null;
}

beforeAll(async () => {
  writeFileSync(faultsFile, '{}');
  writeFileSync(quietFaults, '{}');
  await manager.start();
  mqttUrl = String((await manager.proc!.waitForLog('manager ready'))['mqtt']);
  await manager.request('PUT', '/api/v1/images/discovery/1', { kernelUrl: '/images/pxe/vmlinuz', initrdUrl: '/images/pxe/initrd.img', cmdline: 'console=ttyS0' });
  agents.push(start(agentBin, agentArgs('identity-lab', 2, join(dir, 'lab'), manager.tokenFile, faultsFile)));
  await eventually(nodes, (l) => l.filter((n) => n.presence === 'online').length === 2, 45_000);
}, 90_000);

afterAll(async () => {
  for (const a of agents) await a.stop('SIGKILL');
  await manager.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('node identity', () => {
  it.each([
    ['one MAC', (n: NodeSummary) => ({ macs: [n.identity.macs[0]!] })],
    ['the board serial', (n: NodeSummary) => ({ boardSerial: n.identity.boardSerial, macs: ['02:ee:00:00:00:01'] })],
    ['UUID and serials, not the MACs', (n: NodeSummary) => ({ ...n.identity, macs: ['02:ee:00:00:00:02'] })],
  ])('refuses a registration claiming %s of a known node: a recorded conflict, no credential, nothing overwritten', async (_what, claim) => {
    const lab = saved(join(dir, 'lab'));
    const victim = (await nodes()).find((n) => n.id === lab.nodeId)!;
    const refused = await register(claim(victim), readFileSync(manager.tokenFile, 'utf8').trim());
    // The caller learns the conflict id only: nothing of the known node (an oracle for whoever replays one identifier).
    expect(refused).toMatchObject({ code: 'conflict', message: expect.stringMatching(/^identity conflict \d+: an operator must resolve it$/) });
    const known = [victim.id, victim.identity.systemUuid, victim.identity.systemSerial, victim.identity.chassisSerial, victim.identity.boardSerial, ...victim.identity.macs].filter((v) => v !== '');
    const message = (refused as Error).message;
    for (const value of known) expect(message).not.toContain(value);
    expect((await conflicts()).find((c) => message.startsWith(`identity conflict ${c.id}:`))?.reason).toContain(`partial match with node ${victim.id}`);
    expect((await nodes()).find((n) => n.id === victim.id)?.identity).toEqual(victim.identity);
    expect(await credentialWorks(lab.nodeId, lab.credential)).toBe(true);
    expect(await conflicts()).toContainEqual(expect.objectContaining({ kind: 'mismatch', nodeIds: [victim.id] }));
    expect(manager.proc!.lines.some((l) => l.includes('"identity-conflict"') && l.includes(victim.id))).toBe(true);
  });

  it('raises an alert while conflicts wait for an operator, and resolves it once they are rejected', async () => {
    type Alerts = { items: Array<{ rule: string; state: string; summary: string }> };
    const alert = () => manager.get<Alerts>('/api/v1/alerts').then((r) => r.items.find((a) => a.rule === 'identity-conflicts'));
    // The summary is written at each evaluation: wait for the one that has seen all three conflicts.
    await eventually(alert, (a) => a?.state === 'firing' && /^3 identity conflicts wait for an operator/.test(a.summary));
    for (const c of await conflicts()) expect(await cli('conflicts', 'reject', c.id)).toMatchObject({ code: 0, stdout: `conflict ${c.id} rejected\n` });
    expect(await conflicts()).toEqual([]);
    await eventually(alert, (a) => a?.state === 'resolved');
  });

  it('hands a boot-endpoint token only to an unknown MAC, bound to it, and never lets it register a known node', async () => {
    const lab = saved(join(dir, 'lab'));
    const victim = (await nodes()).find((n) => n.id === lab.nodeId)!;
    expect(await boot(victim.identity.macs[0]!)).toMatchObject({ status: 200, body: expect.not.stringContaining('metalfleet.token=') });
    const token = tokenIn((await boot('02:aa:00:00:00:01')).body);
    expect(token).toMatch(/^mfbt\./);
    expect(await register(victim.identity, token)).toMatchObject({ code: 'conflict', message: expect.not.stringContaining(victim.id) });
    expect((await conflicts()).some((c) => /discovery token .* known node/.test(c.reason))).toBe(true);
    expect(await register({ macs: ['02:aa:00:00:00:01', victim.identity.macs[0]!] }, token)).toMatchObject({ code: 'conflict' });
    expect(await register({ systemUuid: '0badc0de-0000-4000-8000-000000000001', macs: ['02:aa:00:00:00:02'] }, token))
      .toMatchObject({ code: 'unauthenticated', message: expect.stringContaining('02:aa:00:00:00:01') });
    expect(await credentialWorks(lab.nodeId, lab.credential)).toBe(true);
    expect((await nodes()).length).toBe(2);
  });

  it('caps the boot endpoint per MAC and overall: a flood gets HTTP 429 and a local boot, and adds no tokens', async () => {
    const before = (await tokens()).filter((t) => t.purpose === 'discovery').length;
    const same = [await boot('02:bb:00:00:00:01'), await boot('02:bb:00:00:00:01'), await boot('02:bb:00:00:00:01')];
    expect(same.map((a) => a.status)).toEqual([200, 200, 429]);
    expect(same[2]).toMatchObject({ retryAfter: '900', body: expect.stringMatching(/^#!ipxe\necho metalfleet: no token: MAC 02:bb:00:00:00:01 already has 2 discovery tokens[\s\S]*\nexit/) });
    const flood = [];
    for (let i = 0; i < 40; i += 1) flood.push(await boot(`02:cc:00:00:${String(Math.floor(i / 100)).padStart(2, '0')}:${String(i % 100).padStart(2, '0')}`));
    expect(flood.filter((a) => a.status === 200)).toHaveLength(6 - before - 2);
    for (const refused of flood.filter((a) => a.status !== 200)) expect(refused).toMatchObject({ status: 429, body: expect.not.stringContaining('metalfleet.token=') });
    expect((await tokens()).filter((t) => t.purpose === 'discovery')).toHaveLength(6);
  });

  it('re-enrols a machine whose disk was wiped only once an operator approves: same node id, fresh credential', async () => {
    const state = join(dir, 'wiped');
    const first = start(agentBin, agentArgs('wiped', 1, state));
    agents.push(first);
    const old = (await eventually(() => savedIn(state), (s) => s !== null))!;
    await eventually(nodes, (l) => l.some((n) => n.id === old.nodeId && n.presence === 'online'));
    await first.stop('SIGKILL');
    rmSync(state, { recursive: true, force: true });
    const operatorToken = () => tokens().then((l) => l.find((t) => t.purpose === 'operator' && t.description.includes('written to'))?.uses ?? l.find((t) => t.purpose === 'operator')?.uses);
    const usesBefore = await operatorToken();

    const again = start(agentBin, agentArgs('wiped', 1, state));
    agents.push(again);
    const [pending] = (await eventually(conflicts, (l) => l.some((c) => c.kind === 're-enrolment' && c.nodeIds.includes(old.nodeId) && c.attempts >= 2)))
      .filter((c) => c.kind === 're-enrolment');
    expect(pending!.reason).toMatch(/without its credential/);
    expect(again.lines.some((l) => l.includes('"code":"pending-approval"') && l.includes('waits for an operator'))).toBe(true);
    expect(again.child.exitCode).toBeNull();
    expect(existsSync(join(state, 'sim-001', 'credential.json'))).toBe(false);
    expect(await credentialWorks(old.nodeId, old.credential)).toBe(true);
    expect(await operatorToken()).toBe(usesBefore);

    expect(await cli('conflicts', 'ls')).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`${pending!.id}\\s+re-enrolment\\s+open\\s+${old.nodeId}`)) });
    expect(await cli('conflicts', 'approve', pending!.id)).toMatchObject({ code: 0, stdout: `conflict ${pending!.id} approved as node ${old.nodeId}; its next registration enrols it\n` });
    const enrolled = await eventually(() => savedIn(state), (s) => s !== null);
    expect(enrolled!.nodeId).toBe(old.nodeId);
    expect(enrolled!.credential).not.toBe(old.credential);
    expect(await credentialWorks(old.nodeId, old.credential)).toBe(false);
    await eventually(nodes, (l) => l.some((n) => n.id === old.nodeId && n.presence === 'online'));
    expect((await nodes()).filter((n) => n.hostname === 'wiped-001').map((n) => n.id)).toEqual([old.nodeId]);
    expect((await conflicts('enrolled')).map((c) => c.id)).toContain(pending!.id);
  });
});

describe('a rogue machine through the boot endpoint', () => {
  it('is never picked as a replacement spare nor put in a tenant until an operator admits it', async () => {
    // The tenant: one lab node, active through a template (8x H100).
    await manager.request('PUT', '/api/v1/images/gpu-os/1.0', {
      kernelUrl: '/images/vmlinuz', initrdUrl: '/images/initrd', rootUrl: '/images/root.img', sha256: createHash('sha256').update('').digest('hex'), cmdline: '',
    });
    const tenant = await manager.request<Tenant>('POST', '/api/v1/tenants', { name: 'victim' });
    const template = await manager.request<{ id: string }>('POST', '/api/v1/templates', { name: 'one', image: 'gpu-os@1.0', tenantId: tenant.id, nodeCount: 1, gpuModel: 'NVIDIA H100 80GB HBM3', gpuCount: 8 });
    writeFileSync(join(manager.dataDir, 'images', 'root.img'), '');
    // The tenant gets the lab agent's first node (whose faults this test controls); every other machine is parked in another
    // tenant, so the rogue is the only machine that looks like a spare. Nodes of the earlier tests still being inspected
    // would become spares later: wait for them first.
    const labNode = saved(join(dir, 'lab')).nodeId;
    const parking = await manager.request<Tenant>('POST', '/api/v1/tenants', { name: 'parking' });
    const park = async (keep: string | null) => {
      for (const n of await eventually(nodes, (l) => l.every((x) => x.state !== 'discovered' && x.state !== 'inspecting'), 45_000)) {
        if (n.state === 'available' && n.id !== keep) await manager.request('POST', `/api/v1/tenants/${parking.id}/nodes`, { nodeId: n.id });
      }
    };
    await park(labNode);
    const applied = await manager.request<{ allocated: string[] }>('POST', `/api/v1/templates/${template.id}/apply`);
    const [member] = applied.allocated;
    expect(member).toBe(labNode);
    await eventually(nodes, (l) => l.find((n) => n.id === member)?.state === 'active', 45_000);
    // It came back from its install image through an install token bound to it and its reimage command.
    await manager.proc!.waitForLog('install-registered');
    expect(manager.proc!.lines.some((l) => l.includes('"type":"install-registered"') && l.includes(`"nodeId":"${member!}"`))).toBe(true);
    await park(null);

    // The rogue: asks the boot endpoint for a token for its own MAC, registers with it, claims 8x H100 and reports clean health.
    const rogueMac = simulatedMac('rogue', 1);
    const waited = await eventually(() => boot(rogueMac), (a) => a.status === 200 || a.status === 429);
    let token = tokenIn(waited.body);
    if (!token) {
      // The flood above used the overall cap: the operator can see that and raise it; here the rogue waits for a slot like any machine.
      for (const t of (await tokens()).filter((x) => x.purpose === 'discovery')) await manager.request('DELETE', `/api/v1/bootstrap-tokens/${t.id}`);
      token = tokenIn((await boot(rogueMac)).body);
    }
    expect(token).toMatch(/^mfbt\./);
    writeFileSync(join(dir, 'rogue-token'), token);
    agents.push(start(agentBin, agentArgs('rogue', 1, join(dir, 'rogue'), join(dir, 'rogue-token'))));
    const rogue = (await eventually(nodes, (l) => l.some((n) => n.identity.macs.includes(rogueMac) && n.state === 'available' && n.presence === 'online'), 45_000))
      .find((n) => n.identity.macs.includes(rogueMac))!;
    expect(rogue).toMatchObject({ gpuModel: 'NVIDIA H100 80GB HBM3', gpuCount: 8, health: { severity: 'ok' } });
    expect((await manager.get<{ items: Array<{ nodeId: string; state: string }> }>('/api/v1/admissions?state=pending')).items).toEqual([expect.objectContaining({ nodeId: rogue.id, via: 'discovery' })]);

    // The tenant's node loses a GPU: it is failed and sent to repair, and the rogue is not its replacement.
    const victim = (await nodes()).find((n) => n.id === member)!;
    writeFileSync(faultsFile, JSON.stringify({ [String(Number(/(\d+)$/.exec(victim.hostname)?.[1]))]: ['xid79-fallen-off-bus'] }));
    await eventually(async () => manager.proc!.lines.find((l) => l.includes('"type":"remediation"') && l.includes(victim.id) && /replace/.test(l)) ?? '', (l) => l !== '', 45_000);
    writeFileSync(faultsFile, '{}');
    expect(manager.proc!.lines.find((l) => l.includes('"type":"remediation"') && l.includes(victim.id))).toMatch(/no available, online, healthy \(no warning\), admitted, accepted node matches/);
    expect((await nodes()).find((n) => n.id === rogue.id)).toMatchObject({ state: 'available', tenant: null });

    // Nor can an operator put it in a tenant by mistake, until it is admitted.
    await expect(manager.request('POST', `/api/v1/tenants/${tenant.id}/nodes`, { nodeId: rogue.id })).rejects.toThrow(/HTTP 409 .*waits for an operator to admit it/);
    expect(await manager.request('POST', `/api/v1/nodes/${rogue.id}/admit`)).toMatchObject({ nodeId: rogue.id, state: 'admitted', via: 'operator' });
    // Admitted, it is the spare the victim's replacement was owed: made by itself within seconds.
    await eventually(nodes, (l) => l.find((n) => n.id === rogue.id)?.tenant === tenant.id, 30_000);
    expect(manager.proc!.lines.some((l) => l.includes('"type":"remediation"') && l.includes(victim.id) && l.includes(`replaced by ${rogue.id}`) && l.includes('owed since'))).toBe(true);
  }, 120_000);
});

describe('expired boot tokens', () => {
  it('are purged, so a flood leaves nothing behind and the window opens again', async () => {
    const short = new ManagerProcess(join(dir, 'short'), ['--discovery-image', 'discovery@1', '--discovery-token-ttl-s', '2', '--boot-token-purge-interval-s', '1', '--discovery-tokens-max', '5']);
    await short.start();
    try {
      await short.request('PUT', '/api/v1/images/discovery/1', { kernelUrl: '/images/pxe/vmlinuz', initrdUrl: '/images/pxe/initrd.img', cmdline: '' });
      const flood = [];
      for (let i = 0; i < 20; i += 1) flood.push(await boot(`02:dd:00:00:00:${String(i).padStart(2, '0')}`, short.boot));
      expect(flood.filter((a) => a.status === 200).length).toBeLessThanOrEqual(5);
      const list = () => short.get<{ items: Token[] }>('/api/v1/bootstrap-tokens').then((r) => r.items.filter((t) => t.purpose === 'discovery'));
      expect((await list()).length).toBeLessThanOrEqual(5);
      await eventually(list, (l) => l.length === 0, 20_000);
      await short.proc!.waitForLog('expired boot tokens deleted');
      expect(tokenIn((await boot('02:dd:00:00:01:00', short.boot)).body)).toMatch(/^mfbt\./);
      expect((await short.get<{ items: Token[] }>('/api/v1/bootstrap-tokens')).items.filter((t) => t.purpose === 'operator')).toHaveLength(1);
    } finally {
      await short.stop();
    }
  });
});

// Last: the machine it registers has no agent and would stand in the way of the spare and template tests above.
describe('an operator\'s approval', () => {
  it('uses an approval only with a token: whoever presents the approved identity first without one gets nothing', async () => {
    const operatorToken = readFileSync(manager.tokenFile, 'utf8').trim();
    const machine = { systemUuid: '5f0c0000-0000-4000-8000-00000000a001', systemSerial: 'RACE-1', macs: ['02:ac:00:00:00:01'] };
    const first = (await register(machine, operatorToken)) as { nodeId: string; nodeCredential: string };
    // It used its credential (the same token and identity before that would be a lost reply answered again), then its disk was wiped.
    expect(await register(machine, '', { nodeId: first.nodeId, secret: first.nodeCredential })).toMatchObject({ nodeId: first.nodeId });
    expect(await register(machine, operatorToken)).toMatchObject({ code: 'pending-approval' });
    const pending = (await conflicts()).find((c) => c.kind === 're-enrolment' && c.nodeIds.includes(first.nodeId))!;
    expect(await cli('conflicts', 'approve', pending.id)).toMatchObject({ code: 0 });
    expect(await register(machine, '')).toMatchObject({ code: 'unauthenticated' });
    expect(pending.lastPeer).toMatch(/:\d+$/);
    expect((await conflicts('approved')).map((c) => c.id)).toContain(pending.id);
    expect(await register(machine, operatorToken)).toMatchObject({ nodeId: first.nodeId });
    // Where the approval was used from is recorded (the caller's address and port).
    expect((await conflicts('enrolled')).find((c) => c.id === pending.id)?.enrolledPeer).toMatch(/^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1|\[::1\]):\d+$/);
  });
});
