// Reboots and GPU resets on real hardware: efibootmgr for a one-time network
// boot, the system's reboot, nvidia-smi for a GPU reset.
import { parseEfiBootEntries, pxeBootEntry } from './parsers/efibootmgr.ts';
import { runCommand, type RunCommand } from './command-runner.ts';

export interface RealMachineControl {
  rebootIntoPxe(bootScriptUrl: string): Promise<void>;
  reboot(): Promise<void>;
  resetGpu(index: number): Promise<void>;
}

export function createRealMachineControl(run: RunCommand = runCommand): RealMachineControl {
  const reboot = async () => {
    // systemd where there is one; the PXE image's busybox otherwise.
    await run('systemctl', ['reboot']).catch(() => run('reboot', []));
  };
  return {
    async rebootIntoPxe() {
      const entry = pxeBootEntry(parseEfiBootEntries(await run('efibootmgr', [])));
      if (!entry) throw new Error('no active UEFI network (PXE) boot entry; enable network boot in the firmware, or let the manager set it through the BMC');
      await run('efibootmgr', ['--bootnext', entry.id]);
      await reboot();
    },
    reboot,
    async resetGpu(index) {
      await run('nvidia-smi', ['-r', '-i', String(index)], { timeoutMs: 120_000 });
    },
  };
}
