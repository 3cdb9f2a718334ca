// An agent killed (SIGKILL) in the middle of a command and started again on
// the same state dir, as systemd restarts a crashed agent: a reimage's install
// is carried out again and its result reported once (docs/agent-commands.md).
// The root image comes from a server in this test that stalls the first
// download half-way, so the agent is certainly mid-install when it is killed.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeList, Operation, Tenant } from '@metalfleet/api';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-agent-crash-'));
const root = Buffer.from(`metalfleet crash-test root image ${Date.now()}\n`.repeat(8192));
const sha256 = createHash('sha256').update(root).digest('hex');
let manager: ManagerProcess;
let agent: Proc | null = null;
let images: Server;
let imageUrl = '';
/** Downloads of the root image: started, and sent to the end. */
const downloads = { started: 0, completed: 0 };
let firstStarted: () => void = () => undefined;
const firstDownload = new Promise<void>((resolve) => { firstStarted = resolve; });

const api = <T>(method: string, path: string, body?: unknown): Promise<T> => manager.request<T>(method, path, body);
const startAgent = () => start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '1', '--simulate-seed', 'crash',
  '--simulate-reboot-ms', '300', '--state-dir', join(dir, 'agent'), '--kernel-cmdline', '/nonexistent']);

beforeAll(async () => {
  images = createServer((request, response) => {
    downloads.started += 1;
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(root.length) });
    if (downloads.started === 1) {
      // Half the image, then nothing: the agent waits in the middle of its install.
      response.write(root.subarray(0, root.length / 2));
      firstStarted();
      return;
    }
    response.end(root, () => void (downloads.completed += 1));
  });
  await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
  imageUrl = `http://127.0.0.1:${(images.address() as AddressInfo).port}/root.img`;
  manager = new ManagerProcess(join(dir, 'manager'), ['--command-ack-timeout-s', '3', '--reimage-boot-timeout-s', '60', '--reimage-step-timeout-s', '90']);
  await manager.start();
  agent = startAgent();
  await eventually(() => api<NodeList>('GET', '/api/v1/nodes'), (l) => l.items.length === 1 && l.items[0]?.state === 'available', 45_000);
  const boot = `${manager.boot}/images`;
  await api('PUT', '/api/v1/images/gpu-os/2.0', { kernelUrl: `${boot}/vmlinuz`, initrdUrl: `${boot}/initrd`, rootUrl: imageUrl, sha256, cmdline: '' });
}, 120_000);

afterAll(async () => {
  await agent?.stop('SIGKILL');
  await manager?.stop();
  images?.closeAllConnections();
  images?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('an agent killed mid-command', () => {
  it('reimage: killed while installing the image, started again on the same state dir: installs again and the reimage succeeds once', async () => {
    const tenant = await api<Tenant>('POST', '/api/v1/tenants', { name: 'crash' });
    const [node] = (await api<NodeList>('GET', '/api/v1/nodes')).items;
    await api('POST', `/api/v1/tenants/${tenant.id}/nodes`, { nodeId: node!.id });
    const op = await api<Operation>('POST', `/api/v1/nodes/${node!.id}/reimage`, { image: 'gpu-os@2.0' });
    // The simulated node rebooted into the install image and is half-way through the download.
    await firstDownload;
    await agent!.stop('SIGKILL');
    images.closeAllConnections();
    agent = startAgent();
    const done = await eventually(() => api<Operation>('GET', `/api/v1/operations/${op.id}`), (o) => o.state !== 'running', 120_000);
    expect(done.state).toBe('succeeded');
    expect(done.nodes[0]).toMatchObject({ phase: 'done' });
    const { items } = await api<{ items: Array<{ id: string; kind: string; state: string; message: string }> }>('GET', `/api/v1/nodes/${node!.id}/commands`);
    expect(items.filter((c) => c.kind === 'reimage')).toEqual([
      expect.objectContaining({ id: done.nodes[0]!.commandId, state: 'succeeded', message: 'image installed and verified: downloaded and verified (simulated disk); next boot: simulated firmware boots what the manager\'s boot script says' }),
    ]);
    // One interrupted download and one complete one: the install ran again once, and not a third time.
    expect(downloads).toEqual({ started: 2, completed: 1 });
    const results = agent!.lines.filter((l) => l.includes('"image installed and verified"'));
    expect(results).toHaveLength(1);
  }, 180_000);
});
