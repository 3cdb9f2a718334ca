// A real Open vSwitch (ovsdb-server + ovs-vswitchd, userspace datapath) in a
// private directory, with OVSDB on 127.0.0.1 for the manager, and network
// namespaces as nodes cabled to its ports by veth pairs. Installed on first use.
// Recipe: LAB.md. Everything started here is stopped by stop(), even after a
// failed test.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { aptInstall } from './apt.ts';

export function ensureOvsInstalled(): void {
  if (existsSync('/usr/sbin/ovs-vswitchd') && existsSync('/usr/bin/ping') && (existsSync('/usr/sbin/ip') || existsSync('/usr/bin/ip'))) return;
  aptInstall(['openvswitch-switch', 'iputils-ping', 'iproute2']);
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(file, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

export interface LabNode {
  name: string;
  namespace: string;
  port: string;
  address: string;
  mac: string;
}

export interface OvsLab {
  dir: string;
  ovsdbPort: number;
  bridge: string;
  /** ovs-vsctl against this lab's database: the independent check, and how a test injects drift. */
  vsctl(...args: string[]): string;
  /** A namespace cabled to a new switch port, untagged until someone tags it. */
  addNode(name: string, address: string): LabNode;
  /** One ICMP echo from `from` to `to`, 1 s deadline: true when answered. */
  ping(from: LabNode, to: string): boolean;
  /** Pings until the answer is `expected` (a retagged port may take a moment to pass traffic); returns the last answer. */
  reaches(from: LabNode, to: LabNode, expected: boolean): boolean;
  stop(): void;
}

const prefix = `mf${process.pid % 10000}`;

export async function startOvsLab(): Promise<OvsLab> {
  ensureOvsInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'mf-ovs-'));
  const env = { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir };
  const db = `unix:${join(dir, 'db.sock')}`;
  const ovsdbPort = await freePort();
  const namespaces: string[] = [];
  const vsctl = (...args: string[]) => run('ovs-vsctl', [`--db=${db}`, '--timeout=10', ...args], env);
  const stop = () => {
    for (const ns of namespaces) {
      try {
        run('ip', ['netns', 'del', ns]);
      } catch {
        // already gone
      }
    }
    for (const pidFile of ['vswitchd.pid', 'ovsdb.pid']) {
      const path = join(dir, pidFile);
      if (!existsSync(path)) continue;
      try {
        process.kill(Number(readFileSync(path, 'utf8').trim()), 'SIGTERM');
      } catch {
        // already stopped
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const ping = (from: LabNode, to: string): boolean => {
    try {
      run('ip', ['netns', 'exec', from.namespace, 'ping', '-c', '1', '-W', '1', '-q', to]);
      return true;
    } catch {
      return false;
    }
  };
  try {
    run('ovsdb-tool', ['create', join(dir, 'conf.db'), '/usr/share/openvswitch/vswitch.ovsschema'], env);
    run('ovsdb-server', [join(dir, 'conf.db'), `--remote=punix:${join(dir, 'db.sock')}`, `--remote=ptcp:${ovsdbPort}:127.0.0.1`,
      `--pidfile=${join(dir, 'ovsdb.pid')}`, '--detach', `--log-file=${join(dir, 'ovsdb.log')}`], env);
    vsctl('--no-wait', 'init');
    run('ovs-vswitchd', [db, `--pidfile=${join(dir, 'vswitchd.pid')}`, '--detach', `--log-file=${join(dir, 'vswitchd.log')}`], env);
    const bridge = `${prefix}br`;
    vsctl('add-br', bridge, '--', 'set', 'bridge', bridge, 'datapath_type=netdev');
    return {
      dir, ovsdbPort, bridge, vsctl, stop,
      addNode(name, address) {
        const namespace = `${prefix}-${name}`;
        const port = `${prefix}p-${name}`.slice(0, 15); // interface names: 15 characters at most
        run('ip', ['netns', 'add', namespace]);
        namespaces.push(namespace);
        run('ip', ['link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace]);
        run('ip', ['link', 'set', port, 'up']);
        run('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
        run('ip', ['-n', namespace, 'link', 'set', 'eth0', 'up']);
        run('ip', ['-n', namespace, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
        vsctl('add-port', bridge, port);
        const mac = run('ip', ['-n', namespace, '-brief', 'link', 'show', 'eth0']).split(/\s+/)[2] ?? '';
        return { name, namespace, port, address, mac };
      },
      ping,
      reaches(from, to, expected) {
        let answer = !expected;
        for (let i = 0; i < 8 && answer !== expected; i += 1) answer = ping(from, to.address);
        return answer;
      },
    };
  } catch (error) {
    stop();
    throw error;
  }
}
