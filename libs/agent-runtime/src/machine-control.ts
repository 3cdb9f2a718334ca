// What commands need from the machine: reboot (into PXE), GPU reset, and what
// a reimage needs around a BMC power cycle and after writing the disk. Real
// hardware uses efibootmgr, sync, reboot and nvidia-smi (libs/hardware);
// simulated hardware reboots by restarting the simulated node through a
// network boot.

export interface MachineControl {
  /** Next boot from the network, then reboot. `bootScriptUrl` is for simulated firmware; real firmware finds it through DHCP. */
  rebootIntoPxe(bootScriptUrl: string): Promise<void>;
  reboot(): Promise<void>;
  resetGpu(index: number): Promise<void>;
  /** Before the BMC cuts the power: write everything buffered to disk. */
  flushDisks(): Promise<void>;
  /** After an install: the next boot comes from the disk. Says how (UEFI BootNext, or the boot order and the manager's boot script). */
  setNextBootToDisk(): Promise<string>;
  /**
   * Which boot of the machine this is (Linux: /proc/sys/kernel/random/boot_id), '' when unknown. A command interrupted
   * in another boot than this one was interrupted by a reboot, not only by an agent restart (docs/agent-commands.md).
   */
  bootId(): string;
}
