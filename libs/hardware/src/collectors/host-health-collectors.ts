// Host health: SMART (smartctl) and EDAC memory error counters, plus the
// kernel log follower as a collector.
import type { DiskHealth } from '@metalfleet/domain';
import type { HealthCollector } from '../collector.ts';
import { commandExists, runCommand, type RunCommand } from '../command-runner.ts';
import type { KernelLogFollower } from '../kernel-log-follower.ts';
import { parseSmartctlJson } from '../parsers/smartctl.ts';
import { edacCounters } from '../sysfs.ts';

// smartctl's exit code is a bitmask; bits 0-1 mean it could not read the device at all.
const smartctlReadable = (code: number) => (code & 0b11) === 0;

export function smartCollector(run: RunCommand = runCommand): HealthCollector {
  return {
    name: 'smart',
    probe: async () => true,
    async collect() {
      if (!commandExists('smartctl')) throw new Error('smartctl is not installed');
      const scan = JSON.parse(await run('smartctl', ['--scan-open', '--json'], { timeoutMs: 15_000, acceptExitCode: smartctlReadable })) as { devices?: Array<{ name?: string }> };
      const disks: DiskHealth[] = [];
      for (const device of scan.devices ?? []) {
        if (!device.name) continue;
        const out = await run('smartctl', ['--json', '-a', device.name], { timeoutMs: 20_000, acceptExitCode: smartctlReadable });
        disks.push(parseSmartctlJson(out, device.name));
      }
      return { disks };
    },
  };
}

export const edacCollector: HealthCollector = {
  name: 'edac',
  probe: async () => edacCounters().length > 0,
  collect: async () => ({ memoryControllers: edacCounters() }),
};

export function kernelLogCollector(follower: KernelLogFollower, problem: () => string | null = () => null): HealthCollector {
  return {
    name: 'kernel-log',
    probe: async () => true,
    async collect() {
      const why = problem();
      if (why) throw new Error(why);
      return { kernelEvents: follower.snapshot() };
    },
  };
}
