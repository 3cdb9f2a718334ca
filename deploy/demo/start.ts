// npm start: the demo on this machine. The manager first (state in ./data,
// --init on the first start); once it is ready, four simulated nodes (state in
// ./data/agents, faults from ./data/faults.json) dial the address it printed.
// A manager that cannot start (a second npm start: ./data and the ports are
// held) ends the demo before any node starts, so a second demo never knocks
// the first one's nodes off. Ctrl-C, or SIGINT or SIGTERM to this process
// alone, stops both. Arguments go to the manager (e.g. --listen-host 0.0.0.0).
//
// What there is to try, made at the first start: a demo image in the catalog
// (data/images/demo-os.img, served by the manager itself), a tenant `demo`
// with a template `demo-train` of 2 nodes, and alert rules sized for 4 nodes
// (deploy/demo/alert-rules.yaml). The README's walk-through uses them.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { terminalLine } from '@metalfleet/config';

const root = join(import.meta.dirname, '..', '..');
const managerBin = join(root, 'apps', 'manager', 'bin', 'metalfleet-manager.js');
const agentBin = join(root, 'apps', 'agent', 'bin', 'metalfleet-agent.js');
const pretty = process.stdout.isTTY === true;
const asOnTerminal = pretty ? await terminalLine() : (line: string) => line;

/** A log line as people read it on a terminal (JSON stays JSON when piped: for tools). */
function show(name: string, line: string): void {
  const text = line.startsWith('{') ? asOnTerminal(line) : line;
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

/** The demo's image, tenant and template, through the API as an operator would make them. */
async function seed(http: string): Promise<void> {
  setDefaultCACertificates([...getCACertificates('default'), readFileSync(join('data', 'pki', 'ca.crt'), 'utf8')]);
  const token = readFileSync(join('data', 'admin-token'), 'utf8').trim();
  const call = async <T>(method: string, path: string, body: unknown): Promise<T> => {
    const response = await fetch(new URL(path, http), { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  mkdirSync(join('data', 'images'), { recursive: true });
  const image = Buffer.from('metalfleet demo OS image: what a reimage writes to a simulated node\n'.repeat(4096));
  writeFileSync(join('data', 'images', 'demo-os.img'), image);
  await call('PUT', '/api/v1/images/demo-os/1.0', {
    kernelUrl: '/images/vmlinuz', initrdUrl: '/images/initrd', rootUrl: '/images/demo-os.img', sha256: createHash('sha256').update(image).digest('hex'), cmdline: '',
  });
  const tenant = await call<{ id: string }>('POST', '/api/v1/tenants', { name: 'demo' });
  await call('POST', '/api/v1/templates', { name: 'demo-train', image: 'demo-os@1.0', tenantId: tenant.id, nodeCount: 2, gpuModel: '', gpuCount: 8 });
  process.stdout.write('demo    | made image demo-os@1.0, tenant demo and its template demo-train (2 nodes); see the README\'s walk-through\n');
}

const firstStart = !existsSync(join('data', 'fleet.db'));
let fleet: ChildProcess | null = null;
let stopping = false;
const managerArgs = [...(firstStart ? ['--init'] : []), '--alert-rules-file', join(import.meta.dirname, 'alert-rules.yaml'), ...process.argv.slice(2)];
const manager = run('manager', managerBin, managerArgs, (line) => {
  if (fleet !== null || stopping || !line.includes('"manager ready"')) return;
  const ready = JSON.parse(line) as { grpc: string; http: string };
  if (firstStart) void seed(ready.http).catch((error: unknown) => process.stderr.write(`demo: could not make the demo's image, tenant and template: ${String(error)}\n`));
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
