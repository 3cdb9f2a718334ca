// `metalfleet-agent inventory|health` on saved outputs: what an operator runs
// on a bug report, through the real binary.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { agentBin } from '../support/processes.ts';

const run = promisify(execFile);
const fixture = (name: string) => fileURLToPath(new URL(`../../libs/hardware/fixtures/nvidia/${name}`, import.meta.url));

async function agent(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [agentBin, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('metalfleet-agent on saved outputs', () => {
  it('health: a saved XE9680 dmesg with 8 healthy V100s is critical, reset-gpu, exit 2', async () => {
    const result = await agent(['health', '--json', '--nvidia-smi-xml', fixture('GuanceCloud__datakit__gtx-8card.xml'), '--kmsg', fixture('leptonai__gpud__dmesg-with-xid-119.log')]);
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout) as { overall: unknown; conditions: Array<{ code: string; component: string }> };
    expect(report.overall).toEqual({ severity: 'critical', remediation: 'reset-gpu' });
    expect(report.conditions.map((c) => `${c.component} ${c.code}`)).toEqual(['gpu:0000:9b:00 xid-119']);
  });

  it('health: a healthy capture exits 0 and says so', async () => {
    const result = await agent(['health', '--nvidia-smi-csv', fixture('utkuozdemir__nvidia_gpu_exporter__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.load.query-gpu.csv'), '--kmsg', fixture('leptonai__gpud__fabricmanager.log')]);
    expect(result).toMatchObject({ code: 0, stdout: 'healthy: no conditions\n' });
  });

  it('health: fewer GPUs than expected is critical', async () => {
    const result = await agent(['health', '--json', '--expected-gpus', '8', '--nvidia-smi-xml', fixture('GuanceCloud__datakit__gtx-1card.xml'), '--kmsg', fixture('leptonai__gpud__fabricmanager.log')]);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain('"gpu-missing"');
  });

  it('inventory: GPUs from a saved XML with their serials, VBIOS and PCIe', async () => {
    const result = await agent(['inventory', '--json', '--nvidia-smi-xml', fixture('influxdata__telegraf__pro-6000-maxq-blackwell-v13.xml')]);
    expect(result.code).toBe(0);
    const inventory = JSON.parse(result.stdout) as { gpus: Array<Record<string, unknown>>; cpus: unknown[] };
    expect(inventory.gpus).toEqual([expect.objectContaining({ model: 'NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition', driverVersion: '590.44.01', pcieMaxGen: 5, pcieMaxWidth: 16, powerLimitW: 300 })]);
    expect(inventory.cpus.length).toBeGreaterThan(0);
  });

  it('refuses a file that is not nvidia-smi output with a clear message', async () => {
    const result = await agent(['inventory', '--json', '--nvidia-smi-xml', fixture('README.md')]);
    const inventory = JSON.parse(result.stdout) as { failures: unknown[]; gpus: unknown[] };
    expect(inventory.failures).toContainEqual({ collector: 'gpus', message: 'not nvidia-smi XML: no <nvidia_smi_log> element' });
    expect(inventory.gpus).toEqual([]);
  });
});
