// npm run bench (part): from an XID line written to a simulated node's kernel
// log to the alert at a webhook receiver. The real manager and agent; each
// simulated node follows a text file as its kernel log; the manager's rule
// "any XID on a node" (xid-storm, one report) sends to a JSON webhook.
// Health is left at its default period (30 s): the agent evaluates at once
// when the kernel log shows an XID. Target: under 5 s.
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeList } from '@metalfleet/api';
import { ManagerProcess, measuredWithoutAcceptance } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const nodes = 10;
const targetS = 5;

export async function runAlertingBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mf-bench-alerting-'));
  const arrivals = new Map<string, number>();
  const receiver = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const body = JSON.parse(text) as { alerts: Array<{ state: string; labels: Record<string, string> }> };
      for (const a of body.alerts) if (a.state === 'firing' && a.labels['node'] && !arrivals.has(a.labels['node'])) arrivals.set(a.labels['node'], performance.now());
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', done));
  writeFileSync(join(dir, 'rules.yaml'), '- name: gpu-xid\n  kind: xid-storm\n  window: 10m\n  minReports: 1\n');
  const manager = new ManagerProcess(join(dir, 'manager'), [...measuredWithoutAcceptance,
    '--alert-rules-file', join(dir, 'rules.yaml'), '--alert-webhook-urls', `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
  ]);
  let agent: Proc | null = null;
  try {
    await manager.start();
    agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', String(nodes), '--simulate-seed', 'alert-bench',
      '--simulate-kernel-log-dir', join(dir, 'kmsg'), '--state-dir', join(dir, 'agents'), '--log-level', 'error', '--kernel-cmdline', '/nonexistent']);
    const list = await eventually(() => manager.get<NodeList>('/api/v1/nodes'), (l) => l.items.length === nodes && l.items.every((n) => n.presence === 'online'), 60_000);
    const latencies: number[] = [];
    for (const node of list.items) {
      const started = performance.now();
      appendFileSync(join(dir, 'kmsg', `${node.hostname}.log`), `NVRM: Xid (PCI:0000:18:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.\n`);
      await eventually(async () => arrivals.get(node.id), (at) => at !== undefined, 30_000).catch(() => undefined);
      const arrived = arrivals.get(node.id);
      if (arrived !== undefined) latencies.push((arrived - started) / 1000);
    }
    latencies.sort((a, b) => a - b);
    const p50 = latencies[Math.floor(latencies.length / 2)] ?? NaN;
    const max = latencies.at(-1) ?? NaN;
    console.log(`XID line in a node's kernel log → alert at the webhook (${latencies.length} of ${nodes} nodes, health period 30 s): ` +
      `p50 ${p50.toFixed(2)} s, max ${max.toFixed(2)} s (target < ${targetS} s: ${latencies.length === nodes && max < targetS ? 'met' : 'NOT met'}, ${(max / targetS).toFixed(2)}× the target)`);
  } finally {
    await agent?.stop('SIGKILL');
    await manager.stop();
    await new Promise<void>((done) => receiver.close(() => done()));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  await runAlertingBench();
  process.exit(0);
}
