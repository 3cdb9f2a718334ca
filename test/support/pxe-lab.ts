// The PXE lab shared by test/pxe and the bench: a real manager whose boot
// endpoint and images the guest reaches at 10.0.2.100, the PXE image built by
// deploy/image/build.sh and registered with it, a test root image, and an
// ipmi_sim BMC powering a QEMU VM with an empty virtual disk.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { NodeList, NodeSummary } from '@metalfleet/api';
import { startBmcLab, type BmcLab } from './bmc-lab.ts';
import { ManagerProcess } from './manager.ts';
import { freePort } from './ports.ts';
import { eventually } from './processes.ts';
import { attachPxeVm, ensureQemuInstalled, guestManagerHost, type PxeVm } from './pxe-vm.ts';

const repo = resolve(import.meta.dirname, '..', '..');
export const discoveryImage = 'metalfleet-pxe@test';
export const installImage = 'metalfleet-install@test';

export interface PxeLab {
  dir: string;
  manager: ManagerProcess;
  bmc: BmcLab;
  vm: PxeVm;
  uuid: string;
  mac: string;
  diskPath: string;
  /** sha256 and size of the root image the install image writes. */
  root: { sha256: string; bytes: number };
  /** What build.sh printed. */
  buildOutput: string;
  nodeByMac(): Promise<NodeSummary | undefined>;
  stop(): Promise<void>;
}

export async function startPxeLab(options: { rootBytes?: number } = {}): Promise<PxeLab> {
  ensureQemuInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'mf-pxe-'));
  const imageDir = join(dir, 'images');
  mkdirSync(imageDir, { recursive: true });
  const ports = { http: await freePort(), grpc: await freePort(), mqtt: await freePort(), boot: await freePort() };
  const manager = new ManagerProcess(join(dir, 'manager'), [
    '--http-port', String(ports.http), '--grpc-port', String(ports.grpc), '--mqtt-port', String(ports.mqtt), '--boot-port', String(ports.boot),
    '--advertise-host', guestManagerHost, '--public-url', `http://${guestManagerHost}:${ports.boot}`,
    '--image-dir', imageDir, '--discovery-image', discoveryImage,
    // The lab's machine is enrolled through its BMC before it boots: that admits it once discovered.
    '--admit-discovered', 'bmc-enrollment',
    '--health-interval-s', '5', '--reimage-boot-timeout-s', '240', '--command-ack-timeout-s', '20',
    // A QEMU machine has no GPU: no SKU profile fits it, and acceptance (on by default) would send it to repair.
    '--acceptance', 'off',
  ]);
  await manager.start();

  // The image, built as an operator would, registered at the manager by the same script.
  const buildOutput = execFileSync(join(repo, 'deploy', 'image', 'build.sh'), ['--out', imageDir, '--name', 'metalfleet-pxe', '--version', 'test', '--register', manager.http, '--token', manager.adminToken, '--ca-file', manager.caFile], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
  });
  // The install image boots the same kernel and initramfs and writes a root image to the disk.
  const rootImage = randomBytes(options.rootBytes ?? 8 * 2 ** 20);
  writeFileSync(join(imageDir, 'test-root.img'), rootImage);
  const root = { sha256: createHash('sha256').update(rootImage).digest('hex'), bytes: rootImage.length };
  await manager.request('PUT', '/api/v1/images/metalfleet-install/test', {
    kernelUrl: '/images/metalfleet-pxe/test/vmlinuz', initrdUrl: '/images/metalfleet-pxe/test/initrd.img', rootUrl: '/images/test-root.img', sha256: root.sha256,
    cmdline: 'console=ttyS0 panic=-1',
  });

  const bmc = await startBmcLab();
  const uuid = '6f1e2a3b-7c4d-4e5f-8a9b-0c1d2e3f4a5b';
  const mac = '52:54:00:6d:66:01';
  const diskPath = join(dir, 'disk.raw');
  writeFileSync(diskPath, '');
  truncateSync(diskPath, 64 * 2 ** 20);
  const vm = attachPxeVm({ bmc, uuid, mac, diskPath, ports, consoleLog: join(dir, 'console.log') });

  return {
    dir, manager, bmc, vm, uuid, mac, diskPath, root, buildOutput,
    async nodeByMac() {
      return (await manager.get<NodeList>('/api/v1/nodes')).items.find((n) => n.identity.macs.includes(mac));
    },
    async stop() {
      await vm.stop();
      bmc.stop();
      await manager.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits for the machine to be a node (registered by the agent in the image); throws with the console's tail if it is not. */
export async function waitForNode(lab: PxeLab, accept: (node: NodeSummary) => boolean, timeoutMs: number): Promise<NodeSummary> {
  try {
    const node = await eventually(() => lab.nodeByMac(), (n) => n !== undefined && accept(n), timeoutMs);
    if (!node) throw new Error('unreachable');
    return node;
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- VM console (last 3000 characters) ---\n${lab.vm.console().slice(-3000)}`, { cause: error });
  }
}
