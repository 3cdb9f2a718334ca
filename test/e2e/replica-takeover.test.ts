// The per-node work (reimage steps, command resends, offline sweeps) on two
// manager replicas that share PostgreSQL and an external Mosquitto: one does
// it (the node-loops lease), the other serves the nodes' boot scripts and
// registrations, and takes node messages from the shared subscription. The
// one doing the work is killed (-9) in the middle of a reimage batch: the
// other takes it over within the lease period and every node ends done, each
// reimage command run once on its node, and no second command made; what the
// broker had kept for the killed replica's session is taken over too. Then the
// one doing the work is paused (SIGSTOP) past its lease: the other takes over,
// and the paused one, woken, writes no step and sends no command until it
// holds a lease again (a shard it takes back, under a new epoch).
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { NodeList, Operation, Tenant } from '@metalfleet/api';
import { shardLease, shardOf } from '@metalfleet/domain';
import { issueServerCertificate } from '@metalfleet/manager-transport';
import { ManagerProcess } from '../support/manager.ts';
import { copyReplicaState, dropSchema, sharedPostgres } from '../support/replicas.ts';
import { startNodeMosquitto, type NodeMosquitto } from '../support/mosquitto.ts';
import { freePort } from '../support/ports.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const postgres = sharedPostgres;
const schema = `mf_e2e_takeover_${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'mf-takeover-'));
const leaseTtlS = 3;
const nodes = 6;
let broker: NodeMosquitto | null = null;
let agent: Proc | null = null;
const replicas: ManagerProcess[] = [];
const root = Buffer.from('metalfleet takeover test root image\n'.repeat(2048));
let common: string[] = [];

afterAll(async () => {
  await agent?.stop('SIGKILL');
  for (const r of replicas) await r.stop();
  await broker?.stop();
  await dropSchema(schema);
  rmSync(dir, { recursive: true, force: true });
});

/** Who holds a lease now, by the database. */
/** Every lease's holder and epoch now, by name. */
async function leaseEpochs(): Promise<Map<string, { holder: string; epoch: number }>> {
  const client = new pg.Client({ connectionString: postgres });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; holder: string; epoch: string }>(`SELECT name, holder, epoch FROM ${schema}.leases`);
    return new Map(rows.map((r) => [r.name, { holder: r.holder, epoch: Number(r.epoch) }]));
  } finally {
    await client.end();
  }
}

async function holder(name: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: postgres });
  await client.connect();
  try {
    const { rows } = await client.query<{ holder: string }>(`SELECT holder FROM ${schema}.leases WHERE name = $1 AND expires_at > (extract(epoch from clock_timestamp()) * 1000)`, [name]);
    return rows[0]?.holder ?? null;
  } finally {
    await client.end();
  }
}

describe('per-node work taken over from a killed replica', { timeout: 240_000 }, () => {
  it('finishes a reimage batch whose replica was killed -9 in the middle of it: every node done, each command run once', async () => {
    const [mqttPort, bootB, grpcB] = [await freePort(), await freePort(), await freePort()];
    common = ['--postgres-url', postgres, '--postgres-schema', schema, '--lease-ttl-s', String(leaseTtlS), '--mqtt-url', `mqtts://127.0.0.1:${mqttPort}`,
      '--reimage-concurrency', '2', '--command-ack-timeout-s', '3', '--reimage-boot-timeout-s', '60', '--telemetry-interval-s', '1', '--health-interval-s', '1'];
    // a does the per-node work (it starts first, and singletons stay where they are); the nodes boot and register at b.
    const a = new ManagerProcess(join(dir, 'a'), [...common, '--replica-id', 'a', '--public-url', `http://127.0.0.1:${bootB}`]);
    replicas.push(a);
    await a.start();
    const ca = { certPem: readFileSync(a.caFile, 'utf8'), keyPem: readFileSync(join(a.dataDir, 'pki', 'ca.key'), 'utf8'), fingerprint: '' };
    broker = await startNodeMosquitto({ port: mqttPort, caFile: a.caFile, crlFile: join(a.dataDir, 'pki', 'nodes.crl'), server: await issueServerCertificate(ca, ['127.0.0.1', 'localhost']) });
    copyReplicaState(a.dataDir, join(dir, 'b'));
    mkdirSync(join(dir, 'b', 'images'), { recursive: true });
    writeFileSync(join(dir, 'b', 'images', 'root.img'), root);
    const b = new ManagerProcess(join(dir, 'b'), [...common, '--replica-id', 'b', '--boot-port', String(bootB), '--grpc-port', String(grpcB)]).onExistingState();
    replicas.push(b);
    await b.start();
    expect(await holder('singleton/node-loops')).toBe('a');

    agent = start(agentBin, ['--manager', b.grpc, '--bootstrap-token-file', b.tokenFile, '--simulate', String(nodes), '--simulate-seed', 'takeover',
      '--simulate-reboot-ms', '1500', '--state-dir', join(dir, 'agents'), '--kernel-cmdline', '/nonexistent']);
    const list = await eventually(() => b.nodes(), (l: NodeList) => l.items.length === nodes && l.items.every((n) => n.state === 'available' && n.presence === 'online'), 90_000);

    const sha256 = createHash('sha256').update(root).digest('hex');
    const images = `http://127.0.0.1:${bootB}/images`;
    await b.request('PUT', '/api/v1/images/gpu-os/1.0', { kernelUrl: `${images}/vmlinuz`, initrdUrl: `${images}/initrd`, rootUrl: `${images}/root.img`, sha256, cmdline: '' });
    const tenant = await b.request<Tenant>('POST', '/api/v1/tenants', { name: 'takeover' });
    for (const node of list.items) await b.request('POST', `/api/v1/tenants/${tenant.id}/nodes`, { nodeId: node.id });
    const op = await b.request<Operation>('POST', '/api/v1/reimage', { image: 'gpu-os@1.0', nodeIds: list.items.map((n) => n.id), reason: 'takeover test' });

    // In the middle of it: some nodes done or under way, others still queued.
    await eventually(() => b.request<Operation>('GET', `/api/v1/operations/${op.id}`), (o) => o.nodes.some((n) => n.phase !== 'queued' && n.phase !== 'done') && o.nodes.some((n) => n.phase === 'queued'), 90_000);
    const killedAt = Date.now();
    await a.proc?.stop('SIGKILL');
    await eventually(() => holder('singleton/node-loops'), (h) => h === 'b', 30_000);
    console.log(`per-node work taken over ${((Date.now() - killedAt) / 1000).toFixed(1)} s after kill -9 (lease ${leaseTtlS} s)`);
    expect((Date.now() - killedAt) / 1000).toBeLessThan(leaseTtlS + 5);

    const done = await eventually(() => b.request<Operation>('GET', `/api/v1/operations/${op.id}`), (o) => o.state !== 'running', 180_000);
    expect(done.nodes.map((n) => [n.phase, n.failure?.details ?? ''])).toEqual(Array(nodes).fill(['done', '']));
    expect(done.state).toBe('succeeded');
    // One reimage command per node, and the agent ran each once.
    const runs = new Map<string, number>();
    for (const line of agent.lines.filter((l) => l.includes('"msg":"running the command"'))) {
      const id = (JSON.parse(line) as { commandId: string }).commandId;
      runs.set(id, (runs.get(id) ?? 0) + 1);
    }
    for (const node of list.items) {
      const { items } = await b.request<{ items: Array<{ id: string; kind: string; state: string }> }>('GET', `/api/v1/nodes/${node.id}/commands`);
      const reimages = items.filter((c) => c.kind === 'reimage');
      expect(reimages.map((c) => c.state)).toEqual(['succeeded']);
      expect(runs.get(reimages[0]?.id ?? '')).toBe(1);
    }
    // What the broker kept for a's session was taken over by b.
    await eventually(async () => b.proc?.lines ?? [], (lines: string[]) => lines.some((l) => l.includes('took over the broker session of a replica')), 30_000);
  });

  it('fences a replica paused past its lease: woken, it writes no step and sends no command; the other finishes the batch', async () => {
    const [a, b] = replicas as [ManagerProcess, ManagerProcess];
    // a again (same id), now beside b, which keeps the work it took over.
    await a.start();
    const list = await b.nodes();
    const op = await b.request<Operation>('POST', '/api/v1/reimage', { image: 'gpu-os@1.0', nodeIds: list.items.map((n) => n.id), reason: 'fencing test' });
    await eventually(() => b.request<Operation>('GET', `/api/v1/operations/${op.id}`), (o) => o.nodes.some((n) => n.phase !== 'queued' && n.phase !== 'done'), 60_000);
    expect(await holder('singleton/node-loops')).toBe('b');
    // Paused past its lease: a takes the work over meanwhile.
    b.proc?.child.kill('SIGSTOP');
    try {
      await eventually(() => holder('singleton/node-loops'), (h) => h === 'a', 30_000);
    } finally {
      b.proc?.child.kill('SIGCONT');
    }
    const wokeAt = Date.now();
    // The leases as b wakes: whatever it holds after, it took under a newer epoch.
    const atWake = await leaseEpochs();
    const done = await eventually(() => a.request<Operation>('GET', `/api/v1/operations/${op.id}`), (o) => o.state !== 'running', 180_000);
    expect(done.nodes.map((n) => [n.phase, n.failure?.details ?? ''])).toEqual(Array(nodes).fill(['done', '']));
    // What b did once it woke (it logs every event it emits): no step of a reimage written, and no command sent but
    // for a node whose shard it took again after waking, under a new epoch (the shards are shared out again as it
    // comes back: then it may send). A write b had sent before the pause may land while its lease still held and be
    // logged as it wakes: the first second is left out.
    const now = await leaseEpochs();
    const retaken = (nodeId: string) => {
      const shard = shardLease(shardOf(nodeId));
      return now.get(shard)?.holder === 'b' && (now.get(shard)?.epoch ?? 0) > (atWake.get(shard)?.epoch ?? 0);
    };
    const stepsByB = (b.proc?.lines ?? []).filter((l) => {
      const entry = (() => {
        try {
          return JSON.parse(l) as { time?: number; msg?: string; event?: { nodeId?: string } };
        } catch {
          return {};
        }
      })();
      if ((entry.time ?? 0) <= wokeAt + 1000) return false;
      return entry.msg === 'operation-progress' || (entry.msg === 'command-sent' && !retaken(entry.event?.nodeId ?? ''));
    });
    expect(stepsByB).toEqual([]);
  });
});

