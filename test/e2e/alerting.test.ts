// Alerting into the tools operators run: a real manager and simulated nodes, a
// real Alertmanager (Debian) the manager sends to, a real Prometheus scraping
// the manager. Two nodes of five lose a GPU (Xid 79): the fleet's failure
// rate passes 20 %, the alert shows up in Alertmanager and at both webhooks;
// when the failures leave the 20 s window it resolves everywhere.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeList } from '@metalfleet/api';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';
import { startAlertmanager, startPrometheus, type RunningService } from '../support/prometheus.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-alerting-'));
const faultsFile = join(dir, 'faults.json');
const received: Array<{ path: string; body: Record<string, unknown> }> = [];
let hooks: Server;
let hookUrl = '';
let alertmanager: RunningService;
let prometheus: RunningService | null = null;
let manager: ManagerProcess;
let agent: Proc | null = null;

interface AmAlert { labels: Record<string, string>; annotations: Record<string, string>; status: { state: string } }
const amAlerts = async () => (await (await fetch(`${alertmanager.url}/api/v2/alerts`)).json()) as AmAlert[];
const promQuery = async (query: string) => {
  const answer = (await (await fetch(`${prometheus?.url ?? ''}/api/v1/query?query=${encodeURIComponent(query)}`)).json()) as { data: { result: Array<{ value: [number, string] }> } };
  return answer.data.result.map((r) => Number(r.value[1]));
};
const statuses = (path: string) => received.filter((r) => r.path === path).map((r) => String(r.body['status']));

beforeAll(async () => {
  hooks = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(text) as Record<string, unknown> });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((done) => hooks.listen(0, '127.0.0.1', done));
  hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`;
  alertmanager = await startAlertmanager(`${hookUrl}/from-alertmanager`);
  writeFileSync(faultsFile, '{}');
  writeFileSync(join(dir, 'rules.yaml'), '- name: fleet-failure-rate\n  kind: failure-rate\n  by: fleet\n  window: 20s\n  threshold: 0.2\n  minNodes: 5\n');
  manager = new ManagerProcess(join(dir, 'manager'), [
    '--telemetry-interval-s', '1', '--health-interval-s', '1', '--alert-interval-s', '1', '--alert-rules-file', join(dir, 'rules.yaml'),
    '--alertmanager-urls', alertmanager.url, '--alertmanager-refresh-s', '1', '--alert-webhook-urls', `${hookUrl}/from-metalfleet`,
  ]);
  await manager.start();
  prometheus = await startPrometheus(new URL(manager.http).host, join(manager.dataDir, 'admin-token'), manager.caFile);
  agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '5', '--simulate-seed', 'alerting',
    '--faults-file', faultsFile, '--state-dir', join(dir, 'agents'), '--kernel-cmdline', '/nonexistent']);
  // Serving nodes (through their acceptance suite, on by default) before any of them loses a GPU.
  await eventually(() => manager.get<NodeList>('/api/v1/nodes'), (l) => l.items.length === 5 && l.items.every((n) => n.presence === 'online' && n.state === 'available'), 45_000);
}, 120_000);

afterAll(async () => {
  await agent?.stop('SIGKILL');
  await manager?.stop();
  await prometheus?.stop();
  await alertmanager?.stop();
  await new Promise<void>((done) => hooks.close(() => done()));
  rmSync(dir, { recursive: true, force: true });
});

describe('alerting into Alertmanager, webhooks and Prometheus', () => {
  it('two of five nodes lose a GPU: the alert fires in Alertmanager and at both webhooks; Prometheus scrapes the rate', async () => {
    writeFileSync(faultsFile, JSON.stringify({ 1: ['xid79-fallen-off-bus'], 3: ['xid79-fallen-off-bus'] }));
    const firing = await eventually(amAlerts, (list) => list.some((a) => a.labels['alertname'] === 'fleet-failure-rate'), 30_000);
    const alert = firing.find((a) => a.labels['alertname'] === 'fleet-failure-rate');
    expect(alert?.labels).toMatchObject({ severity: 'critical', by: 'fleet', cohort: 'fleet', source: 'metalfleet' });
    expect(alert?.annotations['summary']).toBe('the fleet: 2 of 5 nodes failed in 20s (40.0%, more than 20.0%); nodes alerting-001, alerting-003; gpu-missing, xid-79');
    expect(alert?.status.state).toBe('active');
    await eventually(async () => statuses('/from-alertmanager'), (s) => s.includes('firing'), 15_000);
    await eventually(async () => statuses('/from-metalfleet'), (s) => s.includes('firing'), 5_000);
    expect(await eventually(() => promQuery('metalfleet_failure_rate{by="fleet"}'), (v) => v[0] === 0.4, 20_000)).toEqual([0.4]);
    expect(await eventually(() => promQuery('metalfleet_alerts{alertname="fleet-failure-rate",state="firing"}'), (v) => v[0] === 1, 10_000)).toEqual([1]);
  }, 90_000);

  it('when the failures leave the window the alert resolves in Alertmanager, at both webhooks and in Prometheus', async () => {
    writeFileSync(faultsFile, '{}');
    await eventually(amAlerts, (list) => !list.some((a) => a.labels['alertname'] === 'fleet-failure-rate'), 45_000);
    await eventually(async () => statuses('/from-alertmanager'), (s) => s.at(-1) === 'resolved', 15_000);
    await eventually(async () => statuses('/from-metalfleet'), (s) => s.at(-1) === 'resolved', 5_000);
    expect(statuses('/from-metalfleet')).toEqual(['firing', 'resolved']);
    expect(await eventually(() => promQuery('metalfleet_alerts{alertname="fleet-failure-rate",state="resolved"}'), (v) => v[0] === 1, 10_000)).toEqual([1]);
    const alerts = await manager.get<{ items: Array<{ rule: string; state: string }> }>('/api/v1/alerts');
    expect(alerts.items.filter((a) => a.rule === 'fleet-failure-rate').map((a) => a.state)).toEqual(['resolved']);
  }, 90_000);
});
