// A manager killed (-9) and restarted while nodes download their root image
// from it fails no reimage: the installs wait for it, resume each download
// from the bytes they have (a range request, conditional on the image they
// started), verify the whole image, and report. Before, 9 of 100 such
// reimages failed, and the rest downloaded the image again from byte 0.
//
// The root image is served through a proxy that passes it on slowly, so the
// manager is killed with every node half-way through its download.
//
// A reimage resumed at the restart sends its command at once; the boot-script
// URL in it used to be relative (/boot/ipxe?mac=…) because the manager knew
// its own URL only once HTTP listened, and the node could not boot from it.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeList, Operation, Tenant } from '@metalfleet/api';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';
import { startSlowProxy, type SlowProxy } from '../support/slow-proxy.ts';

const nodes = 4;
const imageBytes = 8 * 2 ** 20;
const dir = mkdtempSync(join(tmpdir(), 'mf-download-restart-'));
let manager: ManagerProcess;
let agents: Proc | null = null;
let proxy: SlowProxy | null = null;
/** The drain hook: answers at once, or holds the request (a drain that takes long) while `hold` is set. */
let hook: Server | null = null;
let hold = false;
const held: string[] = [];

const api = <T>(method: string, path: string, body?: unknown): Promise<T> => manager.request<T>(method, path, body);
const operation = (id: string) => api<Operation>('GET', `/api/v1/operations/${id}`);
/** Connections that asked for the root image. */
const downloads = () => (proxy?.connections ?? []).filter((c) => c.request.startsWith('GET /images/root.img'));

beforeAll(async () => {
  hook = createServer((req, res) => {
    req.resume();
    if (hold) {
      held.push(req.url ?? '');
      return;
    }
    res.writeHead(200).end('{}');
  });
  await new Promise<void>((resolve) => hook?.listen(0, '127.0.0.1', resolve));
  const root = randomBytes(imageBytes);
  mkdirSync(join(dir, 'manager', 'images'), { recursive: true });
  writeFileSync(join(dir, 'manager', 'images', 'root.img'), root);
  manager = new ManagerProcess(join(dir, 'manager'), [
    '--telemetry-interval-s', '1', '--health-interval-s', '1', '--health-digest-interval-s', '2', '--command-ack-timeout-s', '5',
    '--reimage-concurrency', String(nodes), '--reimage-boot-timeout-s', '180', '--reimage-step-timeout-s', '60',
    '--drain-hook-url', `http://127.0.0.1:${(hook.address() as AddressInfo).port}/drain`,
  ]);
  await manager.start();
  const bootPort = Number(manager.boot.split(':').at(-1));
  // About 8 s for each node's download: time to find them all in the middle of it.
  proxy = await startSlowProxy({ host: '127.0.0.1', port: bootPort }, 1024 * 1024);
  agents = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', String(nodes), '--simulate-seed', 'reimage',
    '--simulate-reboot-ms', '300', '--state-dir', join(dir, 'agents'), '--kernel-cmdline', '/nonexistent', '--retry-initial-ms', '200', '--retry-max-ms', '1000']);
  await eventually(() => api<NodeList>('GET', '/api/v1/nodes'), (l) => l.items.length === nodes && l.items.every((n) => n.state === 'available' && n.presence === 'online'), 60_000);
  const sha256 = createHash('sha256').update(root).digest('hex');
  await api('PUT', '/api/v1/images/gpu-os/1.0', {
    kernelUrl: `${manager.boot}/images/vmlinuz`, initrdUrl: `${manager.boot}/images/initrd`, rootUrl: `http://${proxy.address}/images/root.img`, sha256, cmdline: 'console=ttyS0',
  });
}, 120_000);

afterAll(async () => {
  await agents?.stop('SIGKILL');
  await manager?.stop();
  await proxy?.close();
  hook?.closeAllConnections();
  hook?.close();
  rmSync(dir, { recursive: true, force: true });
});

let tenant: Tenant;

describe('a manager killed while nodes download their root image', () => {
  it('fails none of their reimages: each download resumes where it was cut and the image verifies', async () => {
    tenant = await api<Tenant>('POST', '/api/v1/tenants', { name: 'downloads' });
    const template = await api<{ id: string }>('POST', '/api/v1/templates', {
      name: 'all', image: 'gpu-os@1.0', tenantId: tenant.id, nodeCount: nodes, gpuModel: 'NVIDIA H100 80GB HBM3', gpuCount: 8,
    });
    const applied = await api<{ operation: Operation; allocated: string[] }>('POST', `/api/v1/templates/${template.id}/apply`);
    expect(applied.allocated).toHaveLength(nodes);

    // Every node has a download open and has got a quarter of the image or more, none has all of it.
    await eventually(async () => downloads(), (d) => d.filter((c) => c.open && c.bytes >= imageBytes / 4).length === nodes && d.every((c) => c.bytes < imageBytes), 120_000);
    const before = proxy!.bytes;
    const cutConnections = downloads().length;
    await manager.proc?.stop('SIGKILL');
    await manager.start();

    const done = await eventually(() => operation(applied.operation.id), (o) => o.state !== 'running', 180_000);
    expect(done.nodes.map((n) => ({ phase: n.phase, failure: n.failure }))).toEqual(Array.from({ length: nodes }, () => ({ phase: 'done', failure: null })));
    expect(done).toMatchObject({ state: 'succeeded', progress: { total: nodes, done: nodes, failed: 0 } });

    // The downloads after the kill asked for the rest of the same image, and got only the rest.
    const resumed = downloads().slice(cutConnections);
    expect(resumed.length).toBeGreaterThanOrEqual(nodes);
    for (const c of resumed.filter((r) => r.bytes > 0)) expect(c.request).toMatch(/\r\nrange: bytes=[1-9]\d*-\r\n[\s\S]*if-range: "sha256:/i);
    const after = proxy!.bytes - before;
    // Each node had a quarter or more before the kill: what went over again is less than the whole image per node.
    expect(after).toBeLessThan(nodes * imageBytes);
  }, 400_000);

  it('a reimage resumed at the restart sends an absolute boot-script URL, and the nodes boot from it', async () => {
    hold = true;
    const op = await api<Operation>('POST', '/api/v1/reimage', { image: 'gpu-os@1.0', selector: { tenant: tenant.id, state: 'active' }, reason: 'kernel update' });
    await eventually(async () => held.length, (n) => n >= 1, 60_000);
    await manager.proc?.stop('SIGKILL');
    hold = false;
    await manager.start();
    // Drained at once now: the resumed reimages go on to send their commands while the manager is still starting.
    const done = await eventually(() => operation(op.id), (o) => o.state !== 'running', 180_000);
    expect(done.nodes.map((n) => ({ phase: n.phase, failure: n.failure }))).toEqual(Array.from({ length: nodes }, () => ({ phase: 'done', failure: null })));
    expect(done.state).toBe('succeeded');
  }, 400_000);
});
