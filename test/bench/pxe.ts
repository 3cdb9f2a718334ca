// The PXE path on this machine: a QEMU VM (TCG, no KVM) powered on through
// an ipmi_sim BMC, network-booted from the manager into the discovery image,
// registered; then reimaged through the BMC into the install image that
// writes a root image to its disk. Prints the image sizes and both times, and
// the ratio to LAB.md's 25–29 s from QEMU start to the agent's first request.
import { installImage, startPxeLab, waitForNode } from '../support/pxe-lab.ts';
import { eventually } from '../support/processes.ts';

const labFirstRequestS = 27;

export async function runPxeBench(): Promise<void> {
  const lab = await startPxeLab({ rootBytes: 32 * 2 ** 20 });
  try {
    for (const line of lab.buildOutput.split('\n').filter((l) => /MB\s+sha256/.test(l))) console.log(`image: ${line.trim()}`);
    let started = Date.now();
    await lab.manager.request('POST', '/api/v1/enrollments', {
      mac: lab.mac, bmc: { driver: 'ipmi', address: lab.bmc.host, port: lab.bmc.port, username: lab.bmc.username, password: lab.bmc.password, cipherSuite: 3 },
    });
    const node = await waitForNode(lab, () => true, 180_000);
    const registeredS = (Date.now() - started) / 1000;
    console.log(`power-on (BMC) → registered: ${registeredS.toFixed(1)} s (${(registeredS / labFirstRequestS).toFixed(2)}× LAB.md's ~${labFirstRequestS} s to the agent's first request)`);
    await waitForNode(lab, (n) => n.state === 'available', 120_000);
    // Discovered, and admitted by its BMC enrollment (the lab's --admit-discovered bmc-enrollment) before it may serve a tenant.
    await eventually(() => lab.manager.request<{ items: Array<{ nodeId: string; state: string }> }>('GET', '/api/v1/admissions'), (l) => l.items.some((a) => a.nodeId === node.id && a.state === 'admitted'));
    const tenant = await lab.manager.request<{ id: string }>('POST', '/api/v1/tenants', { name: 'bench' });
    await lab.manager.request('POST', `/api/v1/tenants/${tenant.id}/nodes`, { nodeId: node.id });
    started = Date.now();
    const operation = await lab.manager.request<{ id: string }>('POST', `/api/v1/nodes/${node.id}/reimage`, { image: installImage });
    const done = await eventually(() => lab.manager.request<{ state: string }>('GET', `/api/v1/operations/${operation.id}`), (o) => o.state !== 'running', 400_000);
    const reimageS = (Date.now() - started) / 1000;
    console.log(`reimage (drain, BMC power cycle, install image boot, ${lab.root.bytes / 2 ** 20} MiB written and read back, active): ${reimageS.toFixed(1)} s, ${done.state}`);
  } finally {
    await lab.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runPxeBench();
  process.exit(0);
}
