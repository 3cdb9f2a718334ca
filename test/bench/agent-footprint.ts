// npm run bench: the agent's footprint on this machine at a 10 s collection
// interval (telemetry and health), beside prometheus-node-exporter scraped
// every 10 s in the same run. The agent runs as it ships to nodes: the esbuild
// bundle with its production Node options and environment. Target: under 60 MiB RSS and under
// 0.5 % of one core on average. Idle probes with the same Node options are
// measured alongside (agent-floors.ts): Node importing nothing, with the wire
// libraries, with the shared transport, so the agent's figure can be read
// against what any Node agent on this machine would cost.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagerProcess, measuredWithoutAcceptance } from '../support/manager.ts';
import { freePort } from '../support/ports.ts';
import { start } from '../support/processes.ts';
import { floors, startFloors, type RunningFloors } from './agent-floors.ts';
import { measure, type Footprint } from './proc-stats.ts';
import { aptInstall } from '../support/apt.ts';

const seconds = Number(process.env['BENCH_SECONDS'] ?? 120);
const warmupSeconds = 20;
const cycleSeconds = 10;
const exporterBin = '/usr/bin/prometheus-node-exporter';
const agentDir = fileURLToPath(new URL('../../apps/agent/', import.meta.url));

/** Builds the agent bundle and returns how to run it (node options, environment, file), as deploy/ launches it. */
function agentBundle(): { file: string; nodeOptions: string[]; env: Record<string, string> } {
  execFileSync('npm', ['run', 'bundle', '--silent'], { cwd: agentDir, stdio: 'inherit' });
  const pkg = JSON.parse(readFileSync(`${agentDir}package.json`, 'utf8')) as { metalfleet: { nodeOptions: string; env: Record<string, string> } };
  return { file: `${agentDir}dist/metalfleet-agent.mjs`, nodeOptions: pkg.metalfleet.nodeOptions.split(' '), env: pkg.metalfleet.env };
}

function ensureNodeExporter(): void {
  if (existsSync(exporterBin)) return;
  console.log('installing prometheus-node-exporter (Debian) for the comparison…');
  aptInstall(['prometheus-node-exporter']);
}

const row = (name: string, f: Footprint) =>
  `${name.padEnd(34)} ${f.rssAvgMiB.toFixed(1).padStart(8)} ${f.rssMaxMiB.toFixed(1).padStart(8)} ${f.anonRssAvgMiB.toFixed(1).padStart(9)} ${f.cpuPercentOfOneCore.toFixed(3).padStart(10)} ${f.cpuMsPerCycle.toFixed(1).padStart(12)}`;

export async function runAgentFootprint(): Promise<void> {
  ensureNodeExporter();
  const dir = mkdtempSync(join(tmpdir(), 'mf-bench-'));
  const manager = new ManagerProcess(join(dir, 'manager'), [...measuredWithoutAcceptance, '--telemetry-interval-s', String(cycleSeconds), '--health-interval-s', String(cycleSeconds)]);
  let exporter: ChildProcess | null = null;
  let probes: RunningFloors | null = null;
  const agent = { proc: null as ReturnType<typeof start> | null };
  try {
    await manager.start();
    const bundle = agentBundle();
    // The agent's environment (MALLOC_ARENA_MAX) for it and the idle probes; the manager started without it.
    Object.assign(process.env, bundle.env);
    agent.proc = start(bundle.file, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--state-dir', join(dir, 'agent'), '--log-level', 'warn'], bundle.nodeOptions);
    const exporterPort = await freePort();
    exporter = spawn(exporterBin, [`--web.listen-address=127.0.0.1:${exporterPort}`], { stdio: 'ignore' });
    probes = await startFloors(bundle.nodeOptions);
    const scrape = setInterval(() => void fetch(`http://127.0.0.1:${exporterPort}/metrics`).then((r) => r.text()).catch(() => ''), cycleSeconds * 1000);

    console.log(`warming up ${warmupSeconds} s, then measuring ${seconds} s (BENCH_SECONDS) at a ${cycleSeconds} s interval…`);
    await new Promise((r) => setTimeout(r, warmupSeconds * 1000));
    const pids = { 'metalfleet-agent': agent.proc.child.pid ?? 0, 'node-exporter (scraped)': exporter.pid ?? 0, ...probes.pids };
    const result = await measure(pids, seconds, cycleSeconds);
    clearInterval(scrape);

    const a = result['metalfleet-agent'];
    const e = result['node-exporter (scraped)'];
    if (!a || !e) throw new Error('no measurement');
    console.log(`\n${'process'.padEnd(34)} ${'RSS avg'.padStart(8)} ${'RSS max'.padStart(8)} ${'anon avg'.padStart(9)} ${'CPU %core'.padStart(10)} ${'CPU ms/cycle'.padStart(12)}`);
    console.log(row('metalfleet-agent', a));
    console.log(row('node-exporter (scraped)', e));
    console.log(`idle probes with the agent's Node options (${bundle.nodeOptions.join(' ')}) and environment (${Object.entries(bundle.env).map(([k, v]) => `${k}=${v}`).join(' ')}):`);
    for (const floor of floors) {
      const f = result[floor.name];
      if (f) console.log(row(`  ${floor.name}`, f));
    }
    console.log(`\nratio agent / node-exporter: RSS ${(a.rssAvgMiB / e.rssAvgMiB).toFixed(2)}x, CPU ${(a.cpuPercentOfOneCore / Math.max(e.cpuPercentOfOneCore, 1e-9)).toFixed(2)}x`);
    console.log(`targets: RSS < 60 MiB ${a.rssMaxMiB < 60 ? 'met' : 'MISSED'} (max ${a.rssMaxMiB.toFixed(1)}), CPU < 0.5 % ${a.cpuPercentOfOneCore < 0.5 ? 'met' : 'MISSED'} (${a.cpuPercentOfOneCore.toFixed(3)} %)`);
  } finally {
    await agent.proc?.stop();
    await probes?.stop();
    exporter?.kill();
    await manager.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runAgentFootprint();
