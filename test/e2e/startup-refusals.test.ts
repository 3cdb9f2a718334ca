// The real manager (and agent, and CLI) binary refusing to start: a structured option
// with a bad value, or a port another process holds. Each refusal is one line on stderr
// naming the option, exit status 2, no stack trace, and the fresh data
// directory stays empty (no CA, no tokens, no database; a port refusal comes
// after the manager locked the directory, so its lock file may be there).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentBin, cliBin, managerBin } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-refusals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Refusal { code: number | null; stderr: string; dataDir: string[] }

/** Starts the manager on a fresh data directory; a manager that does not refuse is stopped after a while (the test then fails on its exit code). */
function startManager(args: string[], env: Record<string, string> = {}): Promise<Refusal> {
  const dataDir = mkdtempSync(join(dir, 'data-'));
  const ports = ['--http-port', '0', '--grpc-port', '0', '--mqtt-port', '0', '--boot-port', '0'];
  return new Promise((resolve) => {
    execFile(process.execPath, [managerBin, '--data-dir', dataDir, '--listen-host', '127.0.0.1', ...ports, ...args], { env: { ...process.env, ...env }, timeout: 20_000 },
      (error, _stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr, dataDir: readdirSync(dataDir) }));
  });
}

function expectRefused(result: Refusal, line: string | RegExp): void {
  expect(result.stderr).toMatch(/^metalfleet-manager: [^\n]+\n$/);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  if (typeof line === 'string') expect(result.stderr).toBe(`metalfleet-manager: ${line}\n`);
  else expect(result.stderr).toMatch(line);
  expect(result.code).toBe(2);
  // The lock's own files (the lock, the key its name is made with) are no state.
  expect(result.dataDir.filter((name) => name !== 'manager.lock' && name !== 'lock.key')).toEqual([]);
}

const badRules = join(dir, 'bad-rules.yaml');
writeFileSync(badRules, '- name: no-expression\n');

describe('a structured option with a bad value', () => {
  it.each([
    ['--maintenance-windows', '02:00-25:00', '--maintenance-windows: maintenance window "02:00-25:00" is not HH:MM-HH:MM (UTC, start and end differ)'],
    ['--ovsdb-switches', 'leaf-1=10.0.0.5', '--ovsdb-switches: switch "leaf-1=10.0.0.5" is not <name>=<host>:<port>'],
    ['--ovsdb-switches', 'leaf-1=10.0.0.5:6640,leaf-1=10.0.0.6:6640', '--ovsdb-switches: switch leaf-1 is listed twice'],
    ['--vlan-pool', '100-5000', '--vlan-pool: VLAN pool 100-5000 is not within 1-4094'],
    ['--vni-pool', 'lots', '--vni-pool: VNI pool "lots" is not "first-last"'],
    ['--bmc-networks', '10.1.0.0/33', '--bmc-networks: 10.1.0.0/33 is not a CIDR range'],
    ['--alert-webhook-urls', 'https://hooks.example/a,hooks.example/b', '--alert-webhook-urls: "hooks.example/b" is not a URL (e.g. https://host:port/path)'],
    ['--slack-webhook-urls', 'ftp://hooks.example/x', '--slack-webhook-urls: "ftp://hooks.example/x" is not an http:// or https:// URL'],
    ['--alertmanager-urls', 'http://am:9093,http://am:9093/', '--alertmanager-urls: http://am:9093 is listed twice'],
    ['--drain-hook-url', 'slurm drain', '--drain-hook-url: "slurm drain" is not a URL (e.g. https://host:port/path)'],
    ['--influx-url', '127.0.0.1:8086', '--influx-url: "127.0.0.1:8086" is not a URL (e.g. https://host:port/path)'],
    ['--public-url', 'boot.example', '--public-url: "boot.example" is not a URL (e.g. https://host:port/path)'],
    ['--dashboard-url', 'javascript:alert(1)', '--dashboard-url: "javascript:alert(1)" is not an http:// or https:// URL'],
    ['--tls-hosts', 'mgr.example,mgr example', '--tls-hosts: "mgr example" is not a host name or IP address'],
    ['--advertise-host', 'mqtt://mgr', '--advertise-host: "mqtt://mgr" is not a host name or IP address'],
    ['--discovery-image', 'discovery', '--discovery-image: "discovery" is not <name>@<version>'],
    ['--alert-rules-file', join(dir, 'missing.yaml'), /^metalfleet-manager: --alert-rules-file: .*missing\.yaml: ENOENT/],
    ['--alert-rules-file', badRules, /^metalfleet-manager: --alert-rules-file: .*bad-rules\.yaml: /],
  ])('%s %s', async (option, value, line) => {
    expectRefused(await startManager([option, value]), line);
  });

  it('names the variable when the value came from the environment', async () => {
    expectRefused(await startManager([], { METALFLEET_VLAN_POOL: '3000-100' }), 'METALFLEET_VLAN_POOL: VLAN pool 3000-100 is not within 1-4094');
  });

  it('names the key and the file when the value came from --config', async () => {
    const file = join(dir, 'manager.yaml');
    writeFileSync(file, 'maintenanceWindows: "9-5"\n');
    expectRefused(await startManager(['--config', file]), `maintenanceWindows (in ${file}): maintenance window "9-5" is not HH:MM-HH:MM (UTC, start and end differ)`);
  });

  it('refuses two listeners on one port', async () => {
    expectRefused(await startManager(['--http-port', '17999', '--boot-port', '17999']), '--boot-port 17999: the same port as --http-port');
  });
});

function occupy(reusePort: boolean): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', reusePort }, () => resolve(server));
  });
}

describe('a port another process holds', () => {
  // reusePort: how a manager already running holds its gRPC and MQTT ports; a second one would have shared them.
  it.each([
    ['--http-port', false], ['--boot-port', false], ['--grpc-port', false], ['--mqtt-port', false], ['--grpc-port', true], ['--mqtt-port', true],
  ] as const)('%s (held with SO_REUSEPORT: %s)', async (option, reusePort) => {
    const holder = await occupy(reusePort);
    try {
      const { port } = holder.address() as AddressInfo;
      expectRefused(await startManager(['--init', option, String(port)]), `${option} ${port}: address 127.0.0.1:${port} is already in use`);
    } finally {
      holder.close();
    }
  });
});

describe('the agent', () => {
  const runAgent = (args: string[]) => new Promise<{ code: number | null; stderr: string; stateDir: string }>((resolve) => {
    const stateDir = join(mkdtempSync(join(dir, 'agent-')), 'state');
    execFile(process.execPath, [agentBin, '--bootstrap-token', 'mfbt.x.y', '--state-dir', stateDir, '--retry-initial-ms', '200', ...args], { timeout: 20_000 },
      (error, _stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr, stateDir }));
  });

  it.each([
    [['--manager', 'https://mgr.example:7471'], '--manager: "https://mgr.example:7471" is not <host>:<port> (e.g. 10.0.2.100:7471)'],
    [['--manager', 'mgr.example:74710'], '--manager: "mgr.example:74710" is not <host>:<port> (e.g. 10.0.2.100:7471)'],
  ])('refuses %j in one line, before it creates its state directory', async (args, line) => {
    const result = await runAgent(args);
    expect(result.stderr).toBe(`metalfleet-agent: ${line}\n`);
    expect(result.code).toBe(2);
    expect(existsSync(result.stateDir)).toBe(false);
  });

  it('names the kernel command line when the address came from it', async () => {
    const cmdline = join(dir, 'cmdline');
    writeFileSync(cmdline, 'ro quiet metalfleet.manager=10.0.2.100\n');
    const result = await runAgent(['--kernel-cmdline', cmdline]);
    expect(result.stderr).toBe(`metalfleet-agent: manager (from ${cmdline}): "10.0.2.100" is not <host>:<port> (e.g. 10.0.2.100:7471)\n`);
    expect(result.code).toBe(2);
  });
});

describe('the CLI', () => {
  const runCli = (args: string[], env: Record<string, string> = {}) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(process.execPath, [cliBin, '--token', 'mfat.x', ...args, 'nodes', 'ls'], { env: { ...process.env, XDG_CONFIG_HOME: mkdtempSync(join(dir, 'cli-')), ...env }, timeout: 20_000 },
      (error, _stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr }));
  });

  it.each([
    [['--manager', '127.0.0.1:7470'], {}, '--manager: "127.0.0.1:7470" has no scheme: the manager serves its API over HTTPS, e.g. https://127.0.0.1:7470 (http:// where it runs with --http-tls false)'],
    [[], { METALFLEET_MANAGER: 'mgr.example:7470' }, 'METALFLEET_MANAGER: "mgr.example:7470" has no scheme: the manager serves its API over HTTPS, e.g. https://mgr.example:7470 (http:// where it runs with --http-tls false)'],
    [[], { METALFLEET_MANAGER: 'ftp://mgr.example:7470' }, 'METALFLEET_MANAGER: "ftp://mgr.example:7470" is not an http:// or https:// URL'],
    [['--ca-file', join(dir, 'bad-rules.yaml')], {}, `--ca-file: ${join(dir, 'bad-rules.yaml')} is not a PEM certificate (the manager's is <dataDir>/pki/ca.crt)`],
  ])('refuses %j %j as a usage error (exit 2), naming the option', async (args, env, line) => {
    const result = await runCli(args, env);
    expect(result.stderr).toBe(`metalfleet: ${line}\n`);
    expect(result.code).toBe(2);
  });
});
