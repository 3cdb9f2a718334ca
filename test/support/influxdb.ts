// A real InfluxDB 1.x (Debian `influxdb`) in a private directory on loopback,
// installed on first use. Recipe: LAB.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { aptInstall } from './apt.ts';

export interface RunningInflux {
  url: string;
  stop(): Promise<void>;
}

export function ensureInfluxInstalled(): void {
  if (existsSync('/usr/bin/influxd')) return;
  aptInstall(['influxdb']);
}

export async function startInflux(): Promise<RunningInflux> {
  ensureInfluxInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'mf-influx-'));
  const [httpPort, rpcPort] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'influxdb.conf'), `reporting-enabled = false
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
[http]
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
`);
  const child: ChildProcess = spawn('/usr/bin/influxd', ['-config', join(dir, 'influxdb.conf')], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ok = await fetch(`${url}/ping`).then((r) => r.status === 204, () => false);
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`influxd did not answer /ping at ${url}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
