// npm run bench (part): reimaging and replacement with the real manager and
// simulated nodes speaking the real protocol (commands over MQTT, simulated
// reboot through the boot endpoint, image download and sha256 check).
//  1. Fan-out: a reimage of 1,000 active nodes in one request (limits opened
//     to 1,000): time until every node acked its command, and until all are
//     reimaged (simulated image write: 2 s per node).
//  2. Replacement: Xid 79 injected on one node of an 8-node tenant; time from
//     the injection to the replacement being active.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeList, Operation, Tenant } from '@metalfleet/api';
import { ManagerProcess, measuredWithoutAcceptance } from '../support/manager.ts';
import { agentBin, start, type Proc } from '../support/processes.ts';

const fanOutNodes = Number(process.env['BENCH_REIMAGE_NODES'] ?? 1000);

const api = <T>(manager: ManagerProcess, method: string, path: string, body?: unknown): Promise<T> => manager.request<T>(method, path, body);

async function until(probe: () => Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return false;
}

async function setUpImage(manager: ManagerProcess): Promise<void> {
  const root = Buffer.alloc(1024 * 1024, 7);
  mkdirSync(join(manager.dataDir, 'images'), { recursive: true });
  writeFileSync(join(manager.dataDir, 'images', 'root.img'), root);
  const base = `${manager.boot}/images`;
  await api(manager, 'PUT', '/api/v1/images/gpu-os/1.0', {
    kernelUrl: `${base}/vmlinuz`, initrdUrl: `${base}/initrd`, rootUrl: `${base}/root.img`, sha256: createHash('sha256').update(root).digest('hex'), cmdline: '',
  });
}

async function fleet(manager: ManagerProcess, dir: string, count: number, processes: number, extra: string[]): Promise<Proc[]> {
  const agents: Proc[] = [];
  const per = Math.ceil(count / processes);
  for (let p = 0; p < processes; p += 1) {
    agents.push(start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', String(Math.min(per, count - p * per)),
      '--simulate-seed', `reimage-bench-${p}`, '--state-dir', join(dir, `agents-${p}`), '--log-level', 'error', '--kernel-cmdline', '/nonexistent', ...extra]));
  }
  const ready = await until(async () => (await api<NodeList>(manager, 'GET', '/api/v1/nodes?state=available&limit=1')).total >= count, 240_000, 1000);
  if (!ready) throw new Error(`${count} simulated nodes did not all become available`);
  return agents;
}

async function benchFanOut(dir: string): Promise<void> {
  const manager = new ManagerProcess(join(dir, 'fanout'), [...measuredWithoutAcceptance, '--reimage-concurrency', '1000', '--reimage-per-rack', '1000', '--reimage-per-tenant', '1000',
    '--telemetry-interval-s', '30', '--heartbeat-grace-s', '120', '--command-ack-timeout-s', '30', '--reimage-boot-timeout-s', '600',
    '--mqtt-max-connections-per-address', '0']); // 1,000 simulated nodes on 127.0.0.1
  let agents: Proc[] = [];
  try {
    await manager.start();
    agents = await fleet(manager, dir, fanOutNodes, 2, ['--simulate-reboot-ms', '2000', '--health-interval-s', '600', '--digest-interval-s', '3600']);
    await setUpImage(manager);
    const tenant = await api<Tenant>(manager, 'POST', '/api/v1/tenants', { name: 'fanout' });
    const nodes = (await api<NodeList>(manager, 'GET', `/api/v1/nodes?state=available&limit=${fanOutNodes}`)).items;
    for (const node of nodes) await api(manager, 'POST', `/api/v1/tenants/${tenant.id}/nodes`, { nodeId: node.id });
    const t0 = Date.now();
    const op = await api<Operation>(manager, 'POST', '/api/v1/reimage', { image: 'gpu-os@1.0', selector: { tenant: tenant.id }, reason: 'bench' });
    const accepted = Date.now() - t0;
    // A node has acked once it is past `rebooting`: the agent acks and reports "rebooting" in one go.
    const pastAck = new Set(['installing', 'health-check', 'restoring', 'done']);
    let ackS = 0;
    let final = op;
    let lastPrint = Date.now();
    const done = await until(async () => {
      final = await api<Operation>(manager, 'GET', `/api/v1/operations/${op.id}`);
      const acked = final.nodes.filter((n) => pastAck.has(n.phase)).length;
      if (!ackS && acked === final.nodes.length) ackS = (Date.now() - t0) / 1000;
      if (Date.now() - lastPrint > 15_000) {
        lastPrint = Date.now();
        console.log(`  … ${((Date.now() - t0) / 1000).toFixed(0)} s: ${acked} acked, ${final.progress.done} done, ${final.progress.inFlight} in flight, ${final.progress.queued} queued`);
      }
      return final.state !== 'running';
    }, 600_000, 250);
    const doneS = (Date.now() - t0) / 1000;
    console.log(`reimage fan-out to ${nodes.length} nodes: request answered in ${accepted} ms; ${ackS ? `every command acked after ${ackS.toFixed(2)} s (${(nodes.length / ackS).toFixed(0)} acks/s)` : 'NOT every command acked'}`);
    console.log(`  all reimaged (simulated 2 s reboot + image download and sha256 check each): ${done ? `${doneS.toFixed(1)} s` : 'not within 600 s'}; ` +
      `${final.progress.done} done, ${final.progress.failed} failed`);
  } finally {
    for (const a of agents) await a.stop('SIGKILL');
    await manager.stop();
  }
}

async function benchReplacement(dir: string): Promise<void> {
  const faults = join(dir, 'faults.json');
  writeFileSync(faults, '{}');
  const manager = new ManagerProcess(join(dir, 'replace'), [...measuredWithoutAcceptance, '--telemetry-interval-s', '2', '--health-interval-s', '1', '--reimage-per-rack', '8']);
  let agents: Proc[] = [];
  try {
    await manager.start();
    agents = await fleet(manager, dir, 12, 1, ['--simulate-reboot-ms', '3000', '--faults-file', faults]);
    await setUpImage(manager);
    const tenant = await api<Tenant>(manager, 'POST', '/api/v1/tenants', { name: 'training' });
    const template = await api<{ id: string }>(manager, 'POST', '/api/v1/templates', { name: 'train-8', image: 'gpu-os@1.0', tenantId: tenant.id, nodeCount: 8, gpuCount: 8 });
    const applied = await api<{ operation: Operation }>(manager, 'POST', `/api/v1/templates/${template.id}/apply`);
    const t0 = Date.now();
    await until(async () => (await api<Operation>(manager, 'GET', `/api/v1/operations/${applied.operation.id}`)).state !== 'running', 120_000);
    console.log(`template of 8 nodes applied and active in ${((Date.now() - t0) / 1000).toFixed(1)} s (8 at once, simulated 3 s image write)`);
    const members = (await api<NodeList>(manager, 'GET', `/api/v1/nodes?tenant=${tenant.id}`)).items;
    const [victim] = members;
    if (!victim) throw new Error('the template left the tenant empty');
    const t1 = Date.now();
    writeFileSync(faults, JSON.stringify({ [String(Number(/(\d+)$/.exec(victim.hostname)?.[1]))]: ['xid79-fallen-off-bus'] }));
    let failedAt = 0;
    const replaced = await until(async () => {
      const list = (await api<NodeList>(manager, 'GET', `/api/v1/nodes?tenant=${tenant.id}`)).items;
      if (!failedAt && !list.some((n) => n.id === victim.id)) failedAt = Date.now();
      return list.length === 8 && list.every((n) => n.state === 'active') && !list.some((n) => n.id === victim.id);
    }, 120_000, 100);
    const total = (Date.now() - t1) / 1000;
    console.log(`Xid 79 injected → replacement active: ${replaced ? `${total.toFixed(1)} s` : 'not within 120 s'} ` +
      `(detected and failed node out of the tenant after ${((failedAt - t1) / 1000).toFixed(1)} s with a 1 s health interval; the rest is the spare's reimage with a 3 s simulated image write)`);
  } finally {
    for (const a of agents) await a.stop('SIGKILL');
    await manager.stop();
  }
}

export async function runReimagingBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mf-bench-reimage-'));
  try {
    if (process.env['BENCH_SKIP_REPLACEMENT'] !== '1') await benchReplacement(dir);
    await benchFanOut(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runReimagingBench();
  process.exit(0);
}
