// What commands need from the machine: reboot (into PXE) and GPU reset. Real
// hardware uses efibootmgr, reboot and nvidia-smi (libs/hardware); simulated
// hardware reboots by restarting the simulated node through a network boot.

export interface MachineControl {
  /** Next boot from the network, then reboot. `bootScriptUrl` is for simulated firmware; real firmware finds it through DHCP. */
  rebootIntoPxe(bootScriptUrl: string): Promise<void>;
  reboot(): Promise<void>;
  resetGpu(index: number): Promise<void>;
}
