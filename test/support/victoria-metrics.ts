// A real VictoriaMetrics single node (Debian `victoria-metrics`) in a private
// directory on loopback, installed on first use. It takes InfluxDB line
// protocol on /write, which is what the manager's telemetry sink sends.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aptInstall } from './apt.ts';
import { freePort } from './ports.ts';

export interface RunningVictoriaMetrics {
  url: string;
  stop(): Promise<void>;
}

export async function startVictoriaMetrics(): Promise<RunningVictoriaMetrics> {
  if (!existsSync('/usr/bin/victoria-metrics')) aptInstall(['victoria-metrics']);
  const dir = mkdtempSync(join(tmpdir(), 'mf-victoria-'));
  const port = await freePort();
  const child = spawn('/usr/bin/victoria-metrics', ['-storageDataPath', dir, '-httpListenAddr', `127.0.0.1:${port}`, '-retentionPeriod', '100y'], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`victoria-metrics did not answer /health at ${url}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
