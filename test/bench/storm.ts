// npm run bench -- storm: connect storms against the real manager.
//  1. Power-on storm: N simulated nodes (agent processes) start at once; time
//     until all are registered and until all are on MQTT.
//  2. Manager-restart storm: with all N on MQTT, the manager is killed (-9) and
//     started again on the same data directory and ports; time until all N
//     are on MQTT again.
// Beside them, Mosquitto's connect time for N clients in the same run (a
// private one over TLS, and the machine's plain one on 127.0.0.1:1883, read-only).
// Each scenario runs in a child process (`node storm.ts scenario N`), so that
// `taskset -c 0` can pin it, manager and agents included, to one core. On one
// core the simulated fleet (8 agent processes, each node with its own TLS
// connections) takes most of the CPU; a second one-core mode pins only the
// server (the manager; Mosquitto for the comparison) to core 0 and its clients
// to core 1: a slow manager host with the fleet's CPU outside it, as in a rack.
//
// Sizes: BENCH_STORM_NODES (comma-separated, default 5000,10000; the default
// `npm run bench` uses 1000, without the one-core run); BENCH_STORM_PINNED=0
// skips the one-core runs (BENCH_STORM_ONLY_PINNED=1: only those; BENCH_STORM_PIN_MODES=all,server picks the
// one-core modes: everything on core 0, or the server on core 0 and its clients on core 1); BENCH_STORM_TELEMETRY_S (default 15) is the nodes'
// telemetry interval (the issue's stall was seen at 0.48 s, in manager-load);
// BENCH_STORM_LIMIT_S (default 300) how long each phase may take;
// BENCH_STORM_MANAGER_ARGS extra manager flags (e.g. `--mqtt-max-concurrent-connects 0
// --grpc-max-concurrent-handshakes 0 --max-concurrent-registrations 0` for no admission control);
// BENCH_STORM_MANAGER_NODE_OPTIONS Node's flags for the manager (a CPU profile: below).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCertificateAuthority, issueServerCertificate } from '@metalfleet/manager-transport';
import { startMosquittoTls } from '../support/mosquitto.ts';
import { ManagerProcess, measuredWithoutAcceptance } from '../support/manager.ts';
import { agentBin, start, type Proc } from '../support/processes.ts';

const self = fileURLToPath(import.meta.url);
const publishersBin = fileURLToPath(new URL('./mqtt-publishers.ts', import.meta.url));
const telemetryS = Number(process.env['BENCH_STORM_TELEMETRY_S'] ?? 15);
const limitS = Number(process.env['BENCH_STORM_LIMIT_S'] ?? 300);
const managerArgs = (process.env['BENCH_STORM_MANAGER_ARGS'] ?? '').split(' ').filter(Boolean);
// Node's own flags for the manager, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (written when it stops: SIGTERM it once the storm is in).
const managerNodeOptions = (process.env['BENCH_STORM_MANAGER_NODE_OPTIONS'] ?? '').split(' ').filter(Boolean);

/** The manager's metrics; rejects when it does not answer in 5 s (a starved manager: the bench goes on and says so). */
async function metrics(manager: ManagerProcess): Promise<string> {
  return (await fetch(`${manager.http}/metrics`, { headers: manager.auth(), signal: AbortSignal.timeout(5000) })).text();
}

function sum(text: string, pattern: RegExp): number {
  return text.split('\n').filter((l) => pattern.test(l)).reduce((total, l) => total + Number(l.split(' ').at(-1)), 0);
}

interface Progress {
  registered: number;
  connected: number;
  refused: number;
  /** gRPC connections waiting for their TLS handshake. */
  grpcWaiting: number;
  lagP99: number;
  /** Connections accepted by the kernel and not yet by the manager (the listen queues of the MQTT port), and established ones. */
  backlog: number;
  established: number;
}

/** Where waiting nodes are: the kernel's accept queues and established TCP connections on the MQTT port (ss). */
function socketsOn(port: string): { backlog: number; established: number } {
  try {
    const listening = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
    const backlog = listening.split('\n').filter(Boolean).reduce((total, l) => total + Number(l.trim().split(/\s+/)[1] ?? 0), 0);
    const established = execFileSync('ss', ['-Htn', 'state', 'established', `sport = :${port}`], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
    return { backlog, established };
  } catch {
    return { backlog: -1, established: -1 };
  }
}

/** Seconds /healthz took to answer (a supervisor's liveness probe, e.g. systemd's watchdog or a kubelet with a 1 s timeout); 5 when it did not answer in 5 s. */
async function livenessS(manager: ManagerProcess): Promise<number> {
  const t0 = performance.now();
  try {
    const response = await fetch(`${manager.http}/healthz`, { signal: AbortSignal.timeout(5000) });
    await response.arrayBuffer();
  } catch {
    return 5;
  }
  return (performance.now() - t0) / 1000;
}

async function progress(manager: ManagerProcess): Promise<Progress> {
  const text = await metrics(manager);
  return {
    // New nodes only: a node that registers again (its reply was lost) is counted as returning.
    registered: sum(text, /^metalfleet_registrations_total\{result="new"\}/),
    connected: sum(text, /^metalfleet_mqtt_clients /),
    refused: sum(text, /^metalfleet_(mqtt_connections|grpc_connections|registrations)_refused_total/),
    grpcWaiting: sum(text, /^metalfleet_grpc_connections_setting_up\{stage="waiting"\}/),
    lagP99: sum(text, /^metalfleet_manager_nodejs_eventloop_lag_p99_seconds /),
    ...socketsOn(manager.mqtt.split(':').at(-1) ?? '0'),
  };
}

/** Polls every second, prints every 10 s; resolves with the first time (s since t0) each goal was reached, or null. */
async function watch(manager: ManagerProcess, t0: number, goal: { registered?: number; connected: number }): Promise<{ registeredS: number | null; connectedS: number | null; last: Progress; livenessMaxS: number }> {
  let registeredS: number | null = goal.registered === undefined ? 0 : null;
  let connectedS: number | null = null;
  let last: Progress = { registered: 0, connected: 0, refused: 0, grpcWaiting: 0, lagP99: 0, backlog: 0, established: 0 };
  let printed = 0;
  let livenessMaxS = 0;
  while (Date.now() - t0 < limitS * 1000) {
    let answered = true;
    // At once, so that a slow /healthz does not delay the progress sample (and the times read from it).
    const [liveness, sample] = await Promise.all([livenessS(manager), progress(manager).catch(() => {
      answered = false;
      return last;
    })]);
    livenessMaxS = Math.max(livenessMaxS, liveness);
    last = sample;
    const s = (Date.now() - t0) / 1000;
    if (registeredS === null && goal.registered !== undefined && last.registered >= goal.registered) registeredS = s;
    if (connectedS === null && last.connected >= goal.connected) connectedS = s;
    if (s - printed >= 10) {
      printed = s;
      console.log(`    ${s.toFixed(0).padStart(4)} s: ${answered ? '' : '(metrics not answered in 5 s; last known:) '}${last.registered} registered, ${last.connected} on MQTT, ${last.refused} refused (admission), ${last.grpcWaiting} waiting for a gRPC handshake, event-loop lag p99 ${last.lagP99.toFixed(3)} s; MQTT port: ${last.backlog} in accept queues, ${last.established} TCP established`);
    }
    if (registeredS !== null && connectedS !== null) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return { registeredS, connectedS, last, livenessMaxS };
}

/** One scenario, in this (child) process: prints one JSON line starting with RESULT. */
/** Pins a process, all its threads, to one core (`taskset -a -p -c`). */
function pin(pid: number | undefined, core: number): void {
  if (pid) execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
}

/** `serverCore`: pin the manager (and Mosquitto) to this core and the clients to the other. */
async function scenario(nodes: number, serverCore: number | null): Promise<void> {
  const clientCore = serverCore === null ? null : 1 - serverCore;
  const dir = mkdtempSync(join(tmpdir(), 'mf-storm-'));
  const processes = Math.max(1, Math.ceil(nodes / 1250));
  const manager = new ManagerProcess(join(dir, 'manager'), [...measuredWithoutAcceptance, '--telemetry-interval-s', String(telemetryS), '--health-interval-s', '600', '--heartbeat-grace-s', '600',
    '--mqtt-max-connections-per-address', '0', ...managerArgs], managerNodeOptions);
  // A loaded machine (or the fleet dialling it as it starts) can keep a manager from being ready in 30 s.
  manager.readyTimeoutMs = 180_000;
  const agents: Proc[] = [];
  try {
    await manager.start();
    reportManagerExit(manager);
    if (serverCore !== null) pin(manager.proc?.child.pid, serverCore);
    const perProcess = Math.ceil(nodes / processes);
    const t0 = Date.now();
    for (let p = 0; p < processes; p += 1) {
      agents.push(start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', String(Math.min(perProcess, nodes - p * perProcess)),
        '--simulate-seed', `storm-${p}`, '--state-dir', join(dir, `agents-${p}`), '--log-level', 'warn',
        '--kernel-cmdline', '/nonexistent', '--health-interval-s', '600', '--digest-interval-s', '3600']));
      if (clientCore !== null) pin(agents.at(-1)?.child.pid, clientCore);
    }
    console.log(`  power-on storm, ${nodes} nodes (${processes} agent processes):`);
    reportExits(agents);
    const power = await watch(manager, t0, { registered: nodes, connected: nodes });
    if (power.connectedS === null) printWhyWaiting(agents, dir);
    let restart = null;
    if (power.connectedS !== null) {
      await manager.proc?.stop('SIGKILL');
      const t1 = Date.now();
      await manager.start();
      reportManagerExit(manager);
      if (serverCore !== null) pin(manager.proc?.child.pid, serverCore);
      const upS = (Date.now() - t1) / 1000;
      console.log(`  manager killed (-9) and started again (ready after ${upS.toFixed(1)} s):`);
      const again = await watch(manager, t1, { connected: nodes });
      if (again.connectedS === null) printWhyWaiting(agents, dir);
      restart = { upS, connectedS: again.connectedS, connected: again.last.connected, refused: again.last.refused, livenessMaxS: again.livenessMaxS };
    }
    for (const a of agents) await a.stop('SIGKILL');
    agents.length = 0;
    await manager.stop();
    // Mosquitto in the same process tree, so pinned to the same core when the scenario is.
    const tls = await mosquittoTlsConnect(nodes, serverCore);
    // The machine's own Mosquitto is shared: it is never pinned (its clients are).
    const plain = await mosquittoConnect('mqtt://127.0.0.1:1883', nodes, '', clientCore);
    console.log(`RESULT ${JSON.stringify({ nodes, power: { registeredS: power.registeredS, connectedS: power.connectedS, registered: power.last.registered, connected: power.last.connected, refused: power.last.refused, livenessMaxS: power.livenessMaxS }, restart, tls, plain })}`);
  } finally {
    for (const a of agents) await a.stop('SIGKILL');
    await manager.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An agent process that dies mid-storm takes its nodes with it: say so at once, with its last words. */
function reportExits(agents: Proc[]): void {
  agents.forEach((a, i) => a.child.once('exit', (code, signal) => {
    // The bench's own kill at the end of a scenario is no finding.
    if (signal === 'SIGKILL') return;
    console.log(`  agent process ${i} (pid ${a.child.pid}) exited: code ${code}, signal ${signal}; its last lines:`);
    for (const line of a.lines.slice(-10)) console.log(`    ${line.slice(0, 300)}`);
  }));
}

/** Simulated nodes of one agent process that saved the credential a registration gave them. */
function credentialsSaved(stateDir: string): number {
  try {
    return readdirSync(stateDir).filter((d) => existsSync(join(stateDir, d, 'credential.json'))).length;
  } catch {
    return 0;
  }
}

/** A manager that dies mid-storm (not killed by the bench) is a finding: say so at once, with its last words. */
function reportManagerExit(manager: ManagerProcess): void {
  const proc = manager.proc;
  proc?.child.once('exit', (code, signal) => {
    if (signal === 'SIGKILL' || signal === 'SIGTERM' || code === 0) return;
    console.log(`  THE MANAGER EXITED mid-storm: code ${code}, signal ${signal}; its last lines:`);
    for (const line of proc.lines.slice(-15)) console.log(`    ${line.slice(0, 600)}`);
  });
}

/** CPU seconds (user + system) a process has used, from /proc; null once it is gone. */
function cpuSeconds(pid: number | undefined): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** A storm that did not converge: each agent process's state, and what the agents said in their last minute (warnings and errors, by message, code and reason). */
function printWhyWaiting(agents: Proc[], stateRoot: string): void {
  const since = Date.now() - 60_000;
  agents.forEach((a, i) => {
    const recent = a.lines.filter((l) => Number((/"time":(\d+)/.exec(l) ?? [])[1] ?? 0) >= since).length;
    console.log(`  agent process ${i} (pid ${a.child.pid}): ${a.child.exitCode === null && a.child.signalCode === null ? 'running' : `exited (${a.child.exitCode ?? a.child.signalCode})`}, `
      + `${cpuSeconds(a.child.pid)?.toFixed(1) ?? '-'} CPU s, ${credentialsSaved(join(stateRoot, `agents-${i}`))} nodes with a saved credential, ${recent} log lines in the last minute`);
  });
  const counts = new Map<string, number>();
  for (const line of agents.flatMap((a) => a.lines)) {
    try {
      const entry = JSON.parse(line) as { time?: number; msg?: string; code?: string; reason?: string; err?: { message?: string } };
      if ((entry.time ?? 0) < since) continue;
      const key = `${entry.msg ?? ''} [${entry.code ?? ''}] ${(entry.reason ?? entry.err?.message ?? '').slice(0, 100)}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    } catch {
      // not a log line
    }
  }
  console.log('  what the agents said in the last minute (count, message [code] reason):');
  for (const [key, n] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`    ${String(n).padStart(6)}  ${key}`);
}

/** Mosquitto's connect time for `nodes` clients (4 client processes), at `url` (the machine's own on 1883 for plain MQTT: connections only, read-only). */
async function mosquittoConnect(url: string, nodes: number, caFile = '', clientCore: number | null = null): Promise<number | null> {
  const processes = 4;
  const per = Math.ceil(nodes / processes);
  const t0 = Date.now();
  const clients = Array.from({ length: processes }, (_, p) =>
    start(publishersBin, [url, `storm-${process.pid}-${p}`, String(Math.min(per, nodes - p * per)), '3600000', String(limitS + 60), '', caFile]));
  if (clientCore !== null) for (const c of clients) pin(c.child.pid, clientCore);
  try {
    const all = () => clients.every((c) => c.lines.some((l) => l.includes('"connected"')));
    // A client process that exits before all are connected failed (they stay until killed below).
    const exited = () => clients.some((c) => c.child.exitCode !== null);
    while (!all() && !exited() && Date.now() - t0 < limitS * 1000) await new Promise((r) => setTimeout(r, 100));
    return all() ? (Date.now() - t0) / 1000 : null;
  } finally {
    for (const c of clients) await c.stop('SIGKILL');
  }
}

async function mosquittoTlsConnect(nodes: number, serverCore: number | null): Promise<number | null> {
  const dir = mkdtempSync(join(tmpdir(), 'mf-storm-mosq-'));
  try {
    const ca = await ensureCertificateAuthority(join(dir, 'pki'), 'bench CA');
    const broker = await startMosquittoTls(await issueServerCertificate(ca, ['127.0.0.1']));
    if (serverCore !== null) pin(broker.pid, serverCore);
    try {
      return await mosquittoConnect(broker.url, nodes, join(dir, 'pki', 'ca.crt'), serverCore === null ? null : 1 - serverCore);
    } finally {
      await broker.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ScenarioResult {
  nodes: number;
  power: { registeredS: number | null; connectedS: number | null; registered: number; connected: number; refused: number; livenessMaxS: number };
  restart: { upS: number; connectedS: number | null; connected: number; refused: number; livenessMaxS: number } | null;
  tls: number | null;
  plain: number | null;
}

type Pinning = 'none' | 'all' | 'server';

function runScenario(nodes: number, pinning: Pinning): Promise<ScenarioResult | null> {
  const node = process.execPath;
  const [cmd, args] = pinning === 'all' ? ['taskset', ['-c', '0', node, self, 'scenario', String(nodes), 'none']] : [node, [self, 'scenario', String(nodes), pinning]];
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let result: ScenarioResult | null = null;
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith('RESULT ')) result = JSON.parse(line.slice(7)) as ScenarioResult;
        else console.log(line);
      }
    });
    child.once('exit', () => resolve(result));
  });
}

const seconds = (s: number | null | undefined) => (s === null || s === undefined ? 'never' : s.toFixed(1));

export async function runStormBench(sizes: number[] = (process.env['BENCH_STORM_NODES'] ?? '5000,10000').split(',').map(Number), pinnedToo = process.env['BENCH_STORM_PINNED'] !== '0'): Promise<void> {
  const rows: string[] = [];
  const row = (...cells: string[]) => rows.push(cells.map((c, i) => (i === 0 ? c.padEnd(28) : c.padStart(12))).join(' '));
  row('', 'registered', 'on MQTT', 'restart: MQTT', 'mosq. TLS', 'mosq. plain', 'ratio TLS', 'refused', '/healthz max');
  const pinModes = (process.env['BENCH_STORM_PIN_MODES'] ?? 'all,server').split(',') as Pinning[];
  const label: Record<Pinning, string> = { none: '', all: ' (one core)', server: ' (server: 1 core)' };
  for (const nodes of sizes) {
    for (const pinning of process.env['BENCH_STORM_ONLY_PINNED'] === '1' ? pinModes : pinnedToo ? ['none' as const, ...pinModes] : ['none' as const]) {
      const load = loadavg().map((l) => l.toFixed(2)).join(' ');
      const how = pinning === 'all' ? ', everything pinned to one core (taskset -c 0)' : pinning === 'server' ? ', the manager (and Mosquitto) pinned to core 0, the agents (and Mosquitto\'s clients) to core 1' : '';
      console.log(`\n${new Date().toISOString()} storm, ${nodes} nodes${how}; load average before: ${load}`);
      const r = await runScenario(nodes, pinning);
      const tls = r?.tls ?? null;
      const plain = r?.plain ?? null;
      const ratio = r?.power.connectedS && tls ? (r.power.connectedS / tls).toFixed(1) : '-';
      row(`${nodes}${label[pinning]}`, seconds(r?.power.registeredS), seconds(r?.power.connectedS), seconds(r?.restart?.connectedS), seconds(tls), seconds(plain), ratio,
        `${r?.power.refused ?? 0}+${r?.restart?.refused ?? 0}`, `${seconds(r?.power.livenessMaxS)}/${seconds(r?.restart?.livenessMaxS)}`);
      if (r && r.power.connectedS === null) console.log(`  only ${r.power.connected} of ${nodes} on MQTT (${r.power.registered} registered) after ${limitS} s`);
      if (r?.restart && r.restart.connectedS === null) console.log(`  after the restart only ${r.restart.connected} of ${nodes} on MQTT after ${limitS} s`);
      console.log(`  load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    }
  }
  console.log(`\nseconds from power-on (restart: from the manager's start) until all are in; mosquitto: N clients connecting at once, same run; ratio: metalfleet on MQTT / mosquitto TLS; refused: power-on+restart refusals by admission control; /healthz max: the slowest liveness answer, power-on/restart, polled each second (5.0: none in 5 s)`);
  for (const r of rows) console.log(r);
}

if (process.argv[2] === 'scenario') {
  await scenario(Number(process.argv[3]), process.argv[4] === 'server' ? 0 : null);
  process.exit(0);
} else if (import.meta.url === `file://${process.argv[1]}`) {
  await runStormBench(process.argv[2] ? process.argv[2].split(',').map(Number) : undefined);
  process.exit(0);
}

