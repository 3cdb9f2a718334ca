// `metalfleet-agent inventory` and `metalfleet-agent health`: this machine's
// report on stdout, or a saved one's (recorded nvidia-smi / kernel log files).
import { evaluateHealth, overallHealth, type HealthCondition } from '@metalfleet/domain';
import { createRealBackend } from '@metalfleet/hardware';

export interface ReportOptions {
  json: boolean;
  nvidiaSmiXml?: string;
  nvidiaSmiCsv?: string;
  kmsg?: string;
  expectedGpus?: string;
}

function backendFor(options: ReportOptions) {
  return createRealBackend({
    nvidiaSmiXmlFile: options.nvidiaSmiXml, nvidiaSmiCsvFile: options.nvidiaSmiCsv, kmsgFile: options.kmsg,
    expectedGpus: options.expectedGpus ? Number(options.expectedGpus) : 0,
  });
}

export async function printInventory(options: ReportOptions): Promise<number> {
  const inventory = await backendFor(options).inventory();
  if (options.json) {
    process.stdout.write(`${JSON.stringify(inventory, null, 2)}\n`);
  } else {
    const s = inventory.system;
    const lines = [
      `System:   ${[s.vendor, s.model].filter(Boolean).join(' ') || '-'}${s.virtual ? ' (virtual)' : ''}, host ${s.hostname}`,
      `CPUs:     ${inventory.cpus.map((c) => `${c.model} (${c.cores}c/${c.threads}t)`).join(', ') || '-'}`,
      `Memory:   ${(inventory.memory.totalBytes / 1024 ** 3).toFixed(1)} GiB in ${inventory.memory.dimms.length} DIMMs`,
      `Disks:    ${inventory.disks.map((d) => `${d.name} ${d.model} ${(d.sizeBytes / 1e12).toFixed(2)} TB`).join('; ') || '-'}`,
      `NICs:     ${inventory.nics.map((n) => `${n.name} ${n.mac} ${n.linkUp ? 'up' : 'down'}${n.neighbor ? ` → ${n.neighbor.switchName}:${n.neighbor.portId}` : ''}`).join('; ') || '-'}`,
      `GPUs:     ${inventory.gpus.length > 0 ? `${inventory.gpus.length} × ${inventory.gpus[0]?.model} (driver ${inventory.gpus[0]?.driverVersion})` : '-'}`,
      `OS:       ${inventory.os.distro} ${inventory.os.release}, kernel ${inventory.os.kernel}`,
      ...inventory.failures.map((f) => `Failed:   ${f.collector}: ${f.message}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return 0;
}

/** Exit codes follow the monitoring convention: 0 healthy, 1 warning, 2 critical. */
export async function printHealth(options: ReportOptions): Promise<number> {
  const backend = backendFor(options);
  await backend.start((error) => process.stderr.write(`kernel log: ${error.message}\n`));
  await backend.inventory(); // learns the GPU model and count the checks expect
  const readings = await backend.health();
  backend.stop();
  const now = new Date();
  const conditions: HealthCondition[] = evaluateHealth(readings, { ...backend.expectations(), now }).map((f) => ({ ...f, since: now }));
  const overall = overallHealth(conditions);
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ overall, conditions, failures: readings.failures }, null, 2)}\n`);
  } else if (conditions.length === 0) {
    process.stdout.write('healthy: no conditions\n');
  } else {
    process.stdout.write(`${overall.severity}: recommended remediation ${overall.remediation}\n`);
    for (const c of conditions) process.stdout.write(`  ${c.severity.padEnd(8)} ${c.remediation.padEnd(9)} ${c.component}  ${c.code}: ${c.message}\n`);
  }
  return overall.severity === 'critical' ? 2 : overall.severity === 'warning' ? 1 : 0;
}
