// npm start: the demo on this machine. The manager first (state in ./data,
// --init on the first start); once it is ready, four simulated nodes (state in
// ./data/agents, faults from ./data/faults.json) dial the address it printed.
// A manager that cannot start (a second npm start: ./data and the ports are
// held) ends the demo before any node starts, so a second demo never knocks
// the first one's nodes off. Ctrl-C, or SIGINT or SIGTERM to this process
// alone, stops both. Arguments go to the manager (e.g. --listen-host 0.0.0.0).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const root = join(import.meta.dirname, '..', '..');
const managerBin = join(root, 'apps', 'manager', 'bin', 'metalfleet-manager.js');
const agentBin = join(root, 'apps', 'agent', 'bin', 'metalfleet-agent.js');
const pretty = process.stdout.isTTY === true;
const levels: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** A log line as people read it on a terminal (JSON stays JSON when piped: for tools). */
function show(name: string, line: string): void {
  let text = line;
  if (pretty && line.startsWith('{')) {
    try {
      const { level, time, msg, pid: _pid, hostname: _host, name: _name, ...rest } = JSON.parse(line) as Record<string, unknown>;
      const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
      text = `${new Date(Number(time)).toLocaleTimeString()} ${levels[Number(level)] ?? String(level)} ${String(msg)}${fields ? `  ${fields}` : ''}`;
    } catch {
      // Not a log line: as it came.
    }
  }
  process.stdout.write(`${name.padEnd(7)} | ${text}\n`);
}

function run(name: string, bin: string, args: string[], onLine: (line: string) => void = () => undefined): ChildProcess {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      show(name, line);
      onLine(line);
    });
  }
  return child;
}

const exited = (child: ChildProcess) => new Promise<number>((resolve) => {
  if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode ?? 128);
  else child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
});

/** SIGTERM, then SIGKILL if it has not stopped within 10 s. */
async function terminate(child: ChildProcess | null): Promise<void> {
  if (child === null || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited(child);
  clearTimeout(killer);
}

let fleet: ChildProcess | null = null;
let stopping = false;
const manager = run('manager', managerBin, [...(existsSync(join('data', 'fleet.db')) ? [] : ['--init']), ...process.argv.slice(2)], (line) => {
  if (fleet !== null || stopping || !line.includes('"manager ready"')) return;
  const ready = JSON.parse(line) as { grpc: string };
  fleet = run('fleet', agentBin, ['--manager', ready.grpc, '--simulate', '4', '--bootstrap-token-file', join('data', 'bootstrap-token'),
    '--state-dir', join('data', 'agents'), '--faults-file', join('data', 'faults.json')]);
  void exited(fleet).then((code) => stop(code === 0 ? 1 : code, 'the simulated fleet stopped'));
});

async function stop(code: number, why: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (why) process.stderr.write(`demo: ${why}; stopping\n`);
  // The nodes first, while their manager still answers them; then the manager.
  await terminate(fleet);
  await terminate(manager);
  process.exit(code);
}

void exited(manager).then((code) => {
  if (fleet === null && !stopping) {
    process.stderr.write(`demo: the manager did not start (exit ${code}); no simulated node was started\n`);
    process.exit(code === 0 ? 1 : code);
  }
  return stop(code === 0 ? 1 : code, 'the manager stopped');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stop(0, ''));
