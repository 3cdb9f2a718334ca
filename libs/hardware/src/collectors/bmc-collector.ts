// The node's BMC, through the in-band IPMI device: its firmware (inventory)
// and its address (identity, so the manager can power-cycle the node).
import { existsSync } from 'node:fs';
import type { InventoryCollector } from '../collector.ts';
import { runCommand, type RunCommand } from '../command-runner.ts';
import { parseIpmiLanPrint, parseIpmiMcInfo } from '../parsers/ipmitool.ts';

const ipmiDevices = ['/dev/ipmi0', '/dev/ipmi/0', '/dev/ipmidev/0'];

export function hasIpmiDevice(): boolean {
  return ipmiDevices.some((d) => existsSync(d));
}

export function bmcCollector(run: RunCommand = runCommand): InventoryCollector {
  return {
    name: 'bmc',
    probe: async () => hasIpmiDevice(),
    async collect(draft) {
      const info = parseIpmiMcInfo(await run('ipmitool', ['mc', 'info'], { timeoutMs: 15_000 }));
      return { system: { ...draft.system, bmcFirmwareVersion: info.firmwareRevision } };
    },
  };
}

/** The BMC's LAN address, or '' when there is no in-band IPMI or no address. */
export async function bmcAddress(run: RunCommand = runCommand): Promise<string> {
  if (!hasIpmiDevice()) return '';
  return parseIpmiLanPrint(await run('ipmitool', ['lan', 'print'], { timeoutMs: 15_000 }).catch(() => '')).ipAddress;
}
