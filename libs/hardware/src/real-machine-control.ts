// Reboots and GPU resets on real hardware: efibootmgr for a one-time network
// (or disk) boot, the system's reboot, sync, nvidia-smi for a GPU reset.
import { existsSync, readFileSync } from 'node:fs';
import { diskBootEntry, parseEfiBootEntries, pxeBootEntry } from './parsers/efibootmgr.ts';
import { runCommand, type RunCommand } from './command-runner.ts';

export interface RealMachineControl {
  rebootIntoPxe(bootScriptUrl: string): Promise<void>;
  reboot(): Promise<void>;
  resetGpu(index: number): Promise<void>;
  flushDisks(): Promise<void>;
  setNextBootToDisk(): Promise<string>;
  bootId(): string;
}

export function createRealMachineControl(run: RunCommand = runCommand, efiDir = '/sys/firmware/efi', bootIdFile = '/proc/sys/kernel/random/boot_id'): RealMachineControl {
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
    bootId() {
      // The kernel's id for this boot: a new one after every reboot, the same across agent restarts.
      try {
        return readFileSync(bootIdFile, 'utf8').trim();
      } catch {
        return '';
      }
    },
    async flushDisks() {
      await run('sync', []);
    },
    async setNextBootToDisk() {
      if (!existsSync(efiDir)) return 'legacy BIOS: the boot order and the manager\'s boot script (local boot) bring up the disk';
      const entry = diskBootEntry(parseEfiBootEntries(await run('efibootmgr', [])));
      if (!entry) return 'no UEFI disk boot entry to set; the manager\'s boot script (local boot) brings up the disk';
      await run('efibootmgr', ['--bootnext', entry.id]);
      return `UEFI BootNext ${entry.id} (${entry.label})`;
    },
    async resetGpu(index) {
      await run('nvidia-smi', ['-r', '-i', String(index)], { timeoutMs: 120_000 });
    },
  };
}
