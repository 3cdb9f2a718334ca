// A real Prometheus and a real Alertmanager (Debian `prometheus`,
// `prometheus-alertmanager`) in private directories on loopback, installed on
// first use.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { aptInstall } from './apt.ts';

export interface RunningService {
  url: string;
  /** What it printed, for a failing test's message. */
  output: () => string;
  stop(): Promise<void>;
}

export function ensurePrometheusInstalled(): void {
  if (existsSync('/usr/bin/prometheus') && existsSync('/usr/bin/prometheus-alertmanager')) return;
  aptInstall(['prometheus', 'prometheus-alertmanager'], { recommends: false });
}

async function run(bin: string, args: (dir: string, port: number) => string[], config: string, readyPath: string): Promise<RunningService> {
  ensurePrometheusInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'mf-prom-'));
  writeFileSync(join(dir, 'config.yml'), config);
  const port = await freePort();
  let output = '';
  const child: ChildProcess = spawn(bin, args(dir, port), { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${url}${readyPath}`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${bin} did not get ready at ${url}:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Alertmanager routing everything to `webhookUrl` at once (no grouping wait), resolved alerts included. */
export function startAlertmanager(webhookUrl: string): Promise<RunningService> {
  const config = `route:
  receiver: test
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: ${webhookUrl}
        send_resolved: true
`;
  return run('/usr/bin/prometheus-alertmanager', (dir, port) => [
    `--config.file=${join(dir, 'config.yml')}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=',
  ], config, '/-/ready');
}

/** Prometheus scraping `target` (host:port) /metrics every second with the bearer token in `tokenFile`; over HTTPS verified with `caFile` when given. */
export function startPrometheus(target: string, tokenFile: string, caFile = ''): Promise<RunningService> {
  const tls = caFile === '' ? '' : `    scheme: https\n    tls_config:\n      ca_file: ${caFile}\n`;
  const config = `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: metalfleet
    metrics_path: /metrics
${tls}    authorization:
      type: Bearer
      credentials_file: ${tokenFile}
    static_configs:
      - targets: ['${target}']
`;
  return run('/usr/bin/prometheus', (dir, port) => [
    `--config.file=${join(dir, 'config.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
  ], config, '/-/ready');
}
