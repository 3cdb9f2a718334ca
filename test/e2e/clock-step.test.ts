// The manager's host clock steps an hour forward while a reimage is in flight
// (libfaketime under the real manager binary; the agents' clock is not
// touched): the reimage completes, no node is ever shown offline, and the
// manager says what happened to its clock.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeList, Operation, Tenant } from '@metalfleet/api';
import { steppableClock, type SteppableClock } from '../support/faketime.ts';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-clock-step-'));
let clock: SteppableClock;
let manager: ManagerProcess;
let agent: Proc | null = null;

const api = <T>(method: string, path: string, body?: unknown): Promise<T> => manager.request<T>(method, path, body);
const operation = (id: string) => api<Operation>('GET', `/api/v1/operations/${id}`);

/** Nodes other than `reimaged` the manager took for silent (every fleet event is logged as one JSON line); a reimaged node is silent while it reboots. */
const wentSilent = (reimaged: string) => (manager.proc?.lines ?? [])
  .filter((line) => line.includes('"presence-changed"') && line.includes('silent for more than') && !line.includes(reimaged));

beforeAll(async () => {
  clock = steppableClock();
  const root = Buffer.from(`metalfleet clock-step root image ${Date.now()}\n`.repeat(4096));
  mkdirSync(join(dir, 'manager', 'images'), { recursive: true });
  writeFileSync(join(dir, 'manager', 'images', 'root.img'), root);
  manager = new ManagerProcess(join(dir, 'manager'), [
    '--telemetry-interval-s', '1', '--heartbeat-grace-s', '20', '--health-interval-s', '1', '--health-digest-interval-s', '2',
    '--reimage-concurrency', '1', '--reimage-boot-timeout-s', '30', '--reimage-step-timeout-s', '30',
  ], [], clock.env);
  await manager.start();
  // A simulated reboot takes 8 s: long enough for the step to land while the node is rebooting or installing.
  agent = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '2', '--simulate-seed', 'clock',
    '--simulate-reboot-ms', '8000', '--state-dir', join(dir, 'agents'), '--kernel-cmdline', '/nonexistent']);
  await eventually(() => api<NodeList>('GET', '/api/v1/nodes'), (l) => l.items.length === 2 && l.items.every((n) => n.state === 'available' && n.presence === 'online'), 45_000);
  const images = `${manager.boot}/images`;
  await api('PUT', '/api/v1/images/gpu-os/1.0', {
    kernelUrl: `${images}/vmlinuz`, initrdUrl: `${images}/initrd`, rootUrl: `${images}/root.img`, sha256: createHash('sha256').update(root).digest('hex'), cmdline: '',
  });
}, 120_000);

afterAll(async () => {
  await agent?.stop('SIGKILL');
  await manager?.stop();
  clock?.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe('a step of the manager\'s wall clock', () => {
  it('fails no reimage in flight and marks no node offline when the clock jumps an hour ahead', async () => {
    const tenant = await api<Tenant>('POST', '/api/v1/tenants', { name: 'training' });
    const template = await api<{ id: string }>('POST', '/api/v1/templates', { name: 'train-1', image: 'gpu-os@1.0', tenantId: tenant.id, nodeCount: 1, gpuModel: 'NVIDIA H100 80GB HBM3', gpuCount: 8 });
    const applied = await api<{ operation: Operation }>('POST', `/api/v1/templates/${template.id}/apply`);
    await eventually(() => operation(applied.operation.id), (o) => o.nodes.some((n) => n.phase === 'rebooting' || n.phase === 'installing'), 30_000);

    clock.set('+1h');
    const stepped = await manager.proc!.waitForLog(/host clock stepped/, 15_000);
    expect(Number(stepped['offsetS'])).toBeGreaterThan(3500);
    const metrics = await (await fetch(`${manager.http}/metrics`, { headers: manager.auth() })).text();
    expect(Number(/^metalfleet_clock_offset_seconds (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(3500);

    const done = await eventually(() => operation(applied.operation.id), (o) => o.state !== 'running', 60_000);
    expect(done).toMatchObject({ state: 'succeeded', progress: { total: 1, done: 1, failed: 0 } });
    // The presence sweep ran (every 6.7 s) during the reimage's 8 s reboot after the step: the other node was never taken for silent.
    expect(wentSilent(done.nodes[0]!.nodeId)).toEqual([]);
    const nodes = (await api<NodeList>('GET', '/api/v1/nodes')).items;
    expect(nodes.map((n) => n.presence)).toEqual(['online', 'online']);
    expect(nodes.filter((n) => n.state === 'active')).toHaveLength(1);
  }, 120_000);

  it('carries on from its own time when it is killed mid-reimage and the clock jumps another hour before it starts again', async () => {
    const [active] = (await api<NodeList>('GET', '/api/v1/nodes?state=active')).items;
    const op = await api<Operation>('POST', `/api/v1/nodes/${active!.id}/reimage`, { image: 'gpu-os@1.0' });
    // Killed once the node is rebooting into the installer (a resumed `rebooting` phase meets another defect of issue 20:
    // the boot-script URL is relative until HTTP listens).
    await eventually(() => operation(op.id), (o) => o.nodes.some((n) => n.phase === 'installing'), 30_000);
    await manager.proc?.stop('SIGKILL');
    clock.set('+2h');
    await manager.start();
    const done = await eventually(() => operation(op.id), (o) => o.state !== 'running', 60_000);
    expect(done).toMatchObject({ state: 'succeeded', progress: { total: 1, done: 1, failed: 0 } });
    expect(wentSilent(active!.id)).toEqual([]);
    expect((await api<NodeList>('GET', '/api/v1/nodes')).items.map((n) => n.presence)).toEqual(['online', 'online']);
    // The manager's time carried on across the restart; the host clock is two hours ahead of it.
    const resumed = await manager.proc!.waitForLog(/carries on from clock\.json/);
    expect(Number(resumed['offsetS'])).toBeGreaterThan(3500);
  }, 120_000);
});
