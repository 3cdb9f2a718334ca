// From power button to registered node, and a reimage, in a real VM: the
// manager powers a QEMU machine on through an ipmi_sim BMC with boot device
// PXE; QEMU's iPXE fetches its script from the manager's boot endpoint and
// boots the image deploy/image/build.sh made; the agent in it registers with
// the VM's MAC and SMBIOS UUID. A reimage power-cycles it through the BMC
// into the install image, which writes a root image to the virtual disk; the
// test reads the disk file back itself. Runs under TCG (no KVM): minutes.
import { createHash } from 'node:crypto';
import { openSync, readSync, closeSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Operation, Tenant } from '@metalfleet/api';
import { eventually } from '../support/processes.ts';
import { installImage, startPxeLab, waitForNode, type PxeLab } from '../support/pxe-lab.ts';

let lab: PxeLab;
let nodeId = '';

const api = <T>(method: string, path: string, body?: unknown): Promise<T> => lab.manager.request<T>(method, path, body);

function diskSha256(path: string, bytes: number): string {
  const buffer = Buffer.alloc(bytes);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buffer, 0, bytes, 0);
  } finally {
    closeSync(fd);
  }
  return createHash('sha256').update(buffer).digest('hex');
}

beforeAll(async () => {
  lab = await startPxeLab();
}, 180_000);

afterAll(async () => {
  await lab?.stop();
});

describe('PXE boot in a VM', () => {
  it('builds an image under 45 MB and registers it in the catalog', async () => {
    const sizes = [...lab.buildOutput.matchAll(/^\s+(vmlinuz|initrd\.img)\s+([\d.]+) MB\s+sha256 ([0-9a-f]{64})$/gm)];
    expect(sizes.map((m) => m[1])).toEqual(['vmlinuz', 'initrd.img']);
    expect(Number(sizes[1]?.[2])).toBeLessThan(45);
    const catalog = await api<{ items: Array<{ name: string; kernelUrl: string; rootUrl: string }> }>('GET', '/api/v1/images');
    expect(catalog.items).toContainEqual(expect.objectContaining({ name: 'metalfleet-pxe', kernelUrl: '/images/metalfleet-pxe/test/vmlinuz', rootUrl: '' }));
    // Served with its checksum and with range requests, once the manager has hashed it in the background
    // (until then a request is answered at once without a checksum).
    const hashed = (answer: Response) => answer.status === 206 && answer.headers.get('repr-digest') !== null;
    const initrd = await eventually(async () => {
      const answer = await fetch(`${lab.manager.boot}/images/metalfleet-pxe/test/initrd.img`, { headers: { range: 'bytes=0-3' } });
      if (!hashed(answer)) await answer.body?.cancel();
      return answer;
    }, hashed);
    expect(initrd.headers.get('repr-digest')).toBe(`sha-256=:${Buffer.from(sizes[1]?.[3] ?? '', 'hex').toString('base64')}:`);
    // The first four bytes of a zstd frame.
    expect(Buffer.from(await initrd.arrayBuffer()).toString('hex')).toBe('28b52ffd');
  });

  it('powers the machine on through its BMC; it network-boots the discovery image and registers with its MAC and system UUID', async () => {
    const startedAt = Date.now();
    const enrolled = await api<{ power: string }>('POST', '/api/v1/enrollments', {
      mac: lab.mac, bmc: { driver: 'ipmi', address: lab.bmc.host, port: lab.bmc.port, username: lab.bmc.username, password: lab.bmc.password, cipherSuite: 3 },
    });
    expect(enrolled.power).toBe('on');
    expect(lab.bmc.actions().slice(0, 2)).toEqual(['boot pxe', 'power 1']);
    const node = await waitForNode(lab, () => true, 150_000);
    const registeredS = (Date.now() - startedAt) / 1000;
    console.log(`PXE: power-on → registered in ${registeredS.toFixed(1)} s`);
    nodeId = node.id;
    expect(node.identity.systemUuid).toBe(lab.uuid);
    expect(node.identity.macs).toContain(lab.mac);
    // The node has the BMC it was enrolled with: the manager reads its power through it.
    await eventually(() => api<{ items: Array<{ nodeId: string | null }> }>('GET', '/api/v1/enrollments'), (e) => e.items[0]?.nodeId === node.id);
    // Discovered through the boot endpoint, and admitted because it matches the enrollment made through its BMC (--admit-discovered bmc-enrollment).
    const admissions = await eventually(() => api<{ items: Array<{ nodeId: string; state: string; via: string }> }>('GET', '/api/v1/admissions'), (l) => l.items.some((a) => a.nodeId === node.id && a.state === 'admitted'));
    expect(admissions.items).toContainEqual(expect.objectContaining({ nodeId: node.id, state: 'admitted', via: 'bmc-enrollment' }));
    expect(await api('GET', `/api/v1/nodes/${node.id}/power`)).toEqual({ power: 'on' });
    const serial = lab.vm.console();
    expect(serial).toContain('iPXE');
    expect(serial).toContain('metalfleet: starting the agent');
    expect(serial).toMatch(/metalfleet\.token=mfbt\./);
  }, 200_000);

  it('reimages it: power cycle into the install image through the BMC, the image written to its disk and checked, the same node back and active', async () => {
    await waitForNode(lab, (n) => n.state === 'available', 90_000);
    const tenant = await api<Tenant>('POST', '/api/v1/tenants', { name: 'pxe-test' });
    await api('POST', `/api/v1/tenants/${tenant.id}/nodes`, { nodeId });
    const actionsBefore = lab.bmc.actions().length;
    const bootsBefore = lab.vm.boots;
    const startedAt = Date.now();
    const operation = await api<Operation>('POST', `/api/v1/nodes/${nodeId}/reimage`, { image: installImage });
    const done = await eventually(() => api<Operation>('GET', `/api/v1/operations/${operation.id}`), (o) => o.state !== 'running', 300_000)
      .catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\n--- VM console ---\n${lab.vm.console().slice(-3000)}`, { cause: error });
      });
    const reimageS = (Date.now() - startedAt) / 1000;
    console.log(`PXE: reimage (power cycle, install image, ${lab.root.bytes} bytes written and verified, back to active) in ${reimageS.toFixed(1)} s`);
    expect(done).toMatchObject({ state: 'succeeded', progress: { done: 1, failed: 0 } });
    // The manager set PXE and power-cycled the machine through the BMC; QEMU was started again.
    expect(lab.bmc.actions().slice(actionsBefore)).toEqual(expect.arrayContaining(['boot pxe', 'power 0', 'power 1']));
    expect(lab.vm.boots).toBe(bootsBefore + 1);
    // The manager believed the install because it saw it: its own power cycle, then the VM's iPXE fetching the install script.
    const { evidence } = done.nodes[0]!;
    expect(evidence).toMatchObject({ rebootBy: 'bmc', missing: null });
    expect(Date.parse(evidence.installBoot!.at)).toBeGreaterThan(Date.parse(evidence.powerCycledAt!));
    // The same machine is the same node, active again; there is still only one.
    const node = await waitForNode(lab, (n) => n.state === 'active', 30_000);
    expect(node.id).toBe(nodeId);
    expect((await lab.manager.nodes()).items).toHaveLength(1);
    // The install image reported what it wrote, and the disk holds exactly that.
    const detail = await api<{ history: Array<{ to: string; reason: string }> }>('GET', `/api/v1/nodes/${nodeId}`);
    expect(detail.history.at(-1)).toMatchObject({ to: 'active' });
    expect(lab.vm.console()).toContain(`wrote ${lab.root.bytes} bytes to /dev/vda and read them back`);
    expect(diskSha256(lab.diskPath, lab.root.bytes)).toBe(lab.root.sha256);
  }, 420_000);
});
