// npm run bench -- ha: deploy/ha on this machine (a private PostgreSQL, three
// manager replicas, a three-node NATS cluster as shipped, simulated nodes each
// with its own certificate and broker token over MQTT/TLS).
//  1. Registration storm: BENCH_HA_NODES nodes (default 1,000; the issue's
//     figure is 20,000) power on at once, registering round robin at the
//     replicas; time until all are registered and all online via the broker.
//  2. Telemetry through the cluster to 3 replicas, then to 1 at the same
//     offered load (the nodes report every BENCH_HA_TELEMETRY_S, default 15 s
//     as in production): messages ingested per second, lag p99 per replica,
//     CPU per message per replica (BENCH_HA_SINGLE=off: 3 replicas only).
//  3. Takeover: the replica holding the per-node work is killed -9 at a random
//     point, BENCH_HA_KILLS times (default 20), with health events raised all
//     along: time until another replica holds it (p50/p95, against the lease
//     period), and health events lost or stored twice (targets 0 and 0).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { fleetCounts, startHaTopology, type HaTopology } from '../support/ha-topology.ts';
import type { ManagerProcess } from '../support/manager.ts';
import { cpuByGroup, cpuSeconds, machineCpuSeconds } from './proc-stats.ts';
import { tapTelemetry } from './telemetry-tap.ts';

const nodes = Number(process.env['BENCH_HA_NODES'] ?? 1000);
const kills = Number(process.env['BENCH_HA_KILLS'] ?? 20);
const leaseTtlS = Number(process.env['BENCH_HA_LEASE_S'] ?? 5);
const measureS = Number(process.env['BENCH_HA_MEASURE_S'] ?? 30);
// The default of --telemetry-interval-s: a 1 s interval makes the storm compete with 1 msg/s a node of ingest.
const telemetryS = Number(process.env['BENCH_HA_TELEMETRY_S'] ?? 15);
// How often each simulated node evaluates its health: a fault toggled at a kill is raised within it.
const healthS = process.env['BENCH_HA_HEALTH_S'] ?? '1';
// The acceptance suite after inspection (BENCH_HA_ACCEPTANCE=off: none): real nodes run theirs on their own GPUs and
// CPUs; simulated, every node's runs on this machine's two cores beside the storm.
const acceptance = process.env['BENCH_HA_ACCEPTANCE'] ?? 'on';
// Only the registration storm (BENCH_HA_STORM_ONLY=1): for sizes where the rest would take hours.
const stormOnly = process.env['BENCH_HA_STORM_ONLY'] === '1';
// Telemetry with 1 replica after 3 (BENCH_HA_SINGLE=off: not; one replica cannot take 20,000 nodes' telemetry here).
const single = process.env['BENCH_HA_SINGLE'] !== 'off';
// How long the storm may take before it is called missed (BENCH_HA_STORM_MIN, minutes).
const stormMinutes = Number(process.env['BENCH_HA_STORM_MIN'] ?? 30);
// Where the replicas write V8 CPU profiles when they stop (a replica killed -9 writes none): how the storm's cost was found.
const cpuProfileDir = process.env['BENCH_HA_CPU_PROF_DIR'];

/** A replica's metric, NaN when its /metrics does not answer within a minute (in a 20,000-node storm one did not for 5). */
async function metric(replica: ManagerProcess, pattern: RegExp): Promise<number> {
  const response = await fetch(`${replica.http}/metrics`, { headers: replica.auth(), signal: AbortSignal.timeout(60_000) }).catch(() => null);
  const text = response ? await response.text().catch(() => null) : null;
  if (text === null) return Number.NaN;
  const line = text.split('\n').find((l) => pattern.test(l));
  return line ? Number(line.split(' ').at(-1)) : 0;
}
const telemetryIngested = (r: ManagerProcess) => metric(r, /^metalfleet_messages_ingested_total\{kind="telemetry"\}/);
const lagP99 = (r: ManagerProcess) => metric(r, /^metalfleet_telemetry_ingest_lag_seconds\{quantile="0.99"\}/);
const pidOf = (r: ManagerProcess) => r.proc?.child.pid ?? 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

async function waitFor<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs: number): Promise<T | null> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const value = await probe().catch(() => null);
    if (value !== null && accept(value)) return value;
    await sleep(500);
  }
  return null;
}

/** Ingest over `measureS` seconds by the given live replicas, beside what the cluster carried meanwhile. */
async function ingest(ha: HaTopology, live: ManagerProcess[]) {
  const tap = await tapTelemetry(ha, measureS, telemetryS);
  const before = await Promise.all(live.map(async (r) => ({ messages: await telemetryIngested(r), cpu: cpuSeconds(pidOf(r)) })));
  const t0 = Date.now();
  await sleep(measureS * 1000);
  const seconds = (Date.now() - t0) / 1000;
  const carried = await tap.stop();
  console.log(`  the cluster carried ${(carried.messages / seconds).toFixed(0)} telemetry msg/s from ${carried.nodes} nodes; ${carried.overSending} nodes sent more than every ${telemetryS} s`);
  return Promise.all(live.map(async (r, i) => {
    const messages = (await telemetryIngested(r)) - before[i]!.messages;
    const cpu = cpuSeconds(pidOf(r)) - before[i]!.cpu;
    return { rate: messages / seconds, lagP99: await lagP99(r), cpuMsPerMessage: messages > 0 ? (cpu * 1000) / messages : NaN, cpuShare: cpu / seconds };
  }));
}

/** The same nodes' telemetry ingested by one replica, the other two stopped meanwhile: ' vs N by 1 (ratio R)'. */
async function ingestByOne(ha: HaTopology, byThree: number): Promise<string> {
  const [first, ...others] = ha.replicas;
  if (!first) return '';
  for (const r of others) await r.stop();
  await sleep(60_000);
  const [one] = await ingest(ha, [first]);
  for (const r of others) await r.start();
  if (!one) return '';
  console.log(`  1 replica: ${one.rate.toFixed(0)} msg/s, lag p99 ${one.lagP99.toFixed(3)} s, ${one.cpuMsPerMessage.toFixed(3)} CPU ms/msg, ${(one.cpuShare * 100).toFixed(0)} % of a core`);
  return ` vs ${one.rate.toFixed(0)} by 1 (ratio ${(byThree / one.rate).toFixed(2)})`;
}

/** Which part of the topology a process is, from its command line. */
function partOf(cmdline: string): string | null {
  if (cmdline.includes('metalfleet-manager')) return 'manager replicas';
  if (cmdline.includes('metalfleet-agent')) return 'simulated nodes';
  if (cmdline.includes('nats-server')) return 'NATS cluster';
  // The machine's shared PostgreSQL (15/main) is not the topology's.
  if ((/^postgres[: ]/.test(cmdline) || cmdline.includes('/postgres ')) && !cmdline.includes('15/main')) return 'PostgreSQL';
  return null;
}

/** Where the machine's CPU went between two snapshots: seconds and share by part, and ms per node. */
function cpuReport(before: { parts: Map<string, number>; machine: { busy: number; idle: number } }, nodes: number): string {
  const parts = cpuByGroup(partOf);
  const machine = machineCpuSeconds();
  const busy = machine.busy - before.machine.busy;
  const idle = machine.idle - before.machine.idle;
  const lines = [...parts].map(([part, seconds]) => {
    const used = seconds - (before.parts.get(part) ?? 0);
    return `${part} ${used.toFixed(0)} s (${((100 * used) / busy).toFixed(0)} %, ${((1000 * used) / nodes).toFixed(1)} ms/node)`;
  });
  const counted = [...parts].reduce((sum, [part, seconds]) => sum + seconds - (before.parts.get(part) ?? 0), 0);
  return `CPU during the storm: ${lines.join(', ')}, the rest of the machine ${(busy - counted).toFixed(0)} s; ` +
    `machine busy ${busy.toFixed(0)} s, idle ${idle.toFixed(0)} s`;
}

async function sql(ha: HaTopology, text: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: ha.postgresUrl });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}

async function holderOf(ha: HaTopology, lease: string): Promise<string | null> {
  const rows = await sql(ha, `SELECT holder FROM ${ha.schema}.leases WHERE name = $1 AND expires_at > (extract(epoch from clock_timestamp()) * 1000)`, [lease]);
  return rows[0] ? String(rows[0]['holder']) : null;
}

/** Kills the replica doing the per-node work at random points, with health events raised all along; reports takeover time and events lost. */
async function takeovers(ha: HaTopology, faultsFile: string): Promise<void> {
  const times: number[] = [];
  let faults = 0;
  const toggle = () => writeFileSync(faultsFile, JSON.stringify((faults += 1) % 2 === 1 ? { all: ['thermal-slowdown'] } : {}));
  for (let k = 0; k < kills; k++) {
    const holder = await waitFor(() => holderOf(ha, 'singleton/node-loops'), (h) => h !== null, 60_000);
    const victim = ha.replicas.find((r) => r.dataDir.endsWith(`/${holder}`));
    if (!victim) throw new Error(`no replica named ${String(holder)} holds the per-node work`);
    toggle();
    await sleep(Math.random() * leaseTtlS * 1000);
    victim.proc?.child.kill('SIGKILL');
    const killedAt = Date.now();
    const next = await waitFor(() => holderOf(ha, 'singleton/node-loops'), (h) => h !== null && h !== holder, 120_000);
    times.push(next ? (Date.now() - killedAt) / 1000 : NaN);
    toggle();
    await victim.start();
  }
  writeFileSync(faultsFile, '{}');
  const sorted = times.filter((t) => !Number.isNaN(t)).sort((a, b) => a - b);
  console.log(`takeover after kill -9 of the replica doing the per-node work, ${kills} kills at random points (lease ${leaseTtlS} s): ` +
    `p50 ${quantile(sorted, 0.5).toFixed(1)} s, p95 ${quantile(sorted, 0.95).toFixed(1)} s, max ${(sorted.at(-1) ?? NaN).toFixed(1)} s; ` +
    `within lease + 5 s ${sorted.length === kills && (sorted.at(-1) ?? Infinity) <= leaseTtlS + 5 ? 'met' : 'MISSED'}`);

  // Health events: every one an agent spooled is stored, once.
  const spooled = new Map<string, string[]>();
  for (const agent of ha.agents) {
    for (const line of agent.lines) {
      if (!line.includes('"health event spooled"')) continue;
      const entry = JSON.parse(line) as { eventId: string; hardware: string };
      const key = `${ha.agents.indexOf(agent)}/${entry.hardware}`;
      spooled.set(key, [...(spooled.get(key) ?? []), entry.eventId]);
    }
  }
  const expected = [...spooled.values()].flat();
  // Drained when every event spooled is stored, or the count stops growing for a minute (at most 20 minutes): what
  // a killed replica took and never acknowledged comes back after the stream's ack wait, and a backlog takes its time.
  const storedIds = () => sql(ha, `SELECT event_id FROM ${ha.schema}.health_events`).then((rows) => rows.map((r) => String(r['event_id'])));
  const drainStart = Date.now();
  let stored = await storedIds();
  let lastGrowth = Date.now();
  while (stored.length < expected.length && Date.now() - lastGrowth < 60_000 && Date.now() - drainStart < 20 * 60_000) {
    await sleep(5000);
    const now = await storedIds();
    if (now.length > stored.length) lastGrowth = Date.now();
    stored = now;
  }
  const storedSet = new Set(stored);
  const lost = expected.filter((id) => !storedSet.has(id)).length;
  const twice = stored.length - storedSet.size;
  console.log(`health events across the kills: ${expected.length} raised, stored ${((Date.now() - drainStart) / 1000).toFixed(0)} s after the last kill; ` +
    `${lost} lost, ${twice} stored twice (targets 0 and 0: ${lost === 0 && twice === 0 ? 'met' : 'MISSED'})`);
}

export async function runHaBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mf-bench-ha-'));
  const faultsFile = join(dir, 'faults.json');
  writeFileSync(faultsFile, '{}');
  const ha = await startHaTopology({
    dir, replicas: 3,
    ...(cpuProfileDir ? { managerNodeOptions: ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`] } : {}),
    managerArgs: ['--acceptance', acceptance, '--lease-ttl-s', String(leaseTtlS), '--telemetry-interval-s', String(telemetryS), '--health-interval-s', healthS, '--heartbeat-grace-s', String(Math.max(60, 4 * telemetryS))],
  });
  try {
    // 1. Registration storm.
    const cpuBefore = { parts: cpuByGroup(partOf), machine: machineCpuSeconds() };
    const t0 = Date.now();
    ha.addNodes(nodes, { seed: 'bench-ha', extra: ['--faults-file', faultsFile, '--health-interval-s', healthS] });
    let registeredS = NaN;
    let saidAt = t0;
    let last = { registered: 0, online: 0 };
    const all = await waitFor(() => fleetCounts(ha.replicas[0]!), ({ registered, online }) => {
      last = { registered, online };
      if (Number.isNaN(registeredS) && registered >= nodes) registeredS = (Date.now() - t0) / 1000;
      if (Date.now() - saidAt >= 60_000) {
        saidAt = Date.now();
        console.log(`  ${((saidAt - t0) / 1000).toFixed(0)} s: ${registered} registered, ${online} online`);
      }
      return online >= nodes;
    }, stormMinutes * 60_000);
    const onlineS = (Date.now() - t0) / 1000;
    console.log(`registration storm, ${nodes} nodes at once through 3 replicas and a 3-node NATS cluster: all registered in ${Number.isNaN(registeredS) ? `MISSED (${last.registered} in ${stormMinutes} min)` : registeredS.toFixed(1)} s, ` +
      `all online via the broker in ${all ? onlineS.toFixed(1) : `MISSED (${last.online} in ${stormMinutes} min)`} s`);

    console.log(`  ${cpuReport(cpuBefore, nodes)}`);
    if (stormOnly) return;

    // 2. Ingest, 3 replicas then 1, the same nodes reporting; the storm out of the lag figures (their 60 s window).
    await sleep(60_000);
    const three = await ingest(ha, ha.replicas);
    const total3 = three.reduce((sum, r) => sum + r.rate, 0);
    const worstLag = Math.max(...three.map((r) => r.lagP99));
    for (const [i, r] of three.entries()) {
      console.log(`  3 replicas, ${ha.replicas[i]!.dataDir.split('/').at(-1)}: ${r.rate.toFixed(0)} msg/s, lag p99 ${r.lagP99.toFixed(3)} s, ${r.cpuMsPerMessage.toFixed(3)} CPU ms/msg, ${(r.cpuShare * 100).toFixed(0)} % of a core`);
    }
    const versusOne = single ? await ingestByOne(ha, total3) : '';
    console.log(`telemetry offered ≈ ${(nodes / telemetryS).toFixed(0)} msg/s: ingested ${total3.toFixed(0)} msg/s by 3 replicas${versusOne}; ` +
      `lag p99 < 1 s ${worstLag < 1 ? 'met' : 'MISSED'} with 3 (worst ${worstLag.toFixed(3)} s)`);

    // 3. Takeover after kill -9 (BENCH_HA_KILLS=0: none, for sizes where each kill's health events would take hours).
    if (kills > 0) await takeovers(ha, faultsFile);
  } finally {
    await ha.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
