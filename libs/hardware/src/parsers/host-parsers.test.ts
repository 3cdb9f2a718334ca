// smartctl, lldpcli and ethtool outputs. No public captures of these are in
// fixtures/; the samples follow the tools' documented output formats.
import { describe, expect, it } from 'vitest';
import { parseEthtoolInfo, parseEthtoolMaxSpeed } from './ethtool.ts';
import { parseLldpNeighbors } from './lldp.ts';
import { parseSmartctlJson } from './smartctl.ts';

describe('smartctl --json', () => {
  it('reads NVMe health', () => {
    const out = JSON.stringify({
      device: { name: '/dev/nvme0', type: 'nvme' }, model_name: 'SAMSUNG MZQL23T8HCLS-00A07', serial_number: 'S64HNE0R', smart_status: { passed: false },
      nvme_smart_health_information_log: { critical_warning: 4, percentage_used: 7, media_errors: 2 },
    });
    expect(parseSmartctlJson(out)).toEqual({ device: '/dev/nvme0', model: 'SAMSUNG MZQL23T8HCLS-00A07', serial: 'S64HNE0R', smartPassed: false, nvmeCriticalWarning: 4, percentageUsed: 7, mediaErrors: 2, reallocatedSectors: null, pendingSectors: null });
  });
  it('reads ATA attributes 5 and 197, and treats a missing status as unknown', () => {
    const out = JSON.stringify({ device: { name: '/dev/sda' }, ata_smart_attributes: { table: [{ id: 5, raw: { value: 12 } }, { id: 197, raw: { value: 1 } }] } });
    expect(parseSmartctlJson(out)).toMatchObject({ smartPassed: null, reallocatedSectors: 12, pendingSectors: 1, nvmeCriticalWarning: null });
  });
});

describe('lldpcli show neighbors -f json', () => {
  const port = (id: string) => ({ id: { type: 'ifname', value: id }, descr: `port ${id}` });
  it('reads one interface (an object) and several (an array)', () => {
    const one = { lldp: { interface: { eth0: { chassis: { 'leaf-01': { id: { type: 'mac', value: '0c:42:a1:00:00:01' } } }, port: port('Ethernet12') } } } };
    expect(parseLldpNeighbors(JSON.stringify(one))).toEqual([{ nic: 'eth0', switchName: 'leaf-01', switchId: '0c:42:a1:00:00:01', portId: 'Ethernet12', portDescription: 'port Ethernet12' }]);
    const two = { lldp: { interface: [
      { eth0: { chassis: { 'leaf-01': { id: { value: 'a' } } }, port: port('Ethernet1') } },
      { eth1: { chassis: { 'leaf-02': { id: { value: 'b' } } }, port: port('Ethernet2') } },
    ] } };
    expect(parseLldpNeighbors(JSON.stringify(two)).map((n) => `${n.nic}→${n.switchName}:${n.portId}`)).toEqual(['eth0→leaf-01:Ethernet1', 'eth1→leaf-02:Ethernet2']);
  });
});

describe('ethtool', () => {
  it('reads driver and firmware, and the fastest supported mode', () => {
    expect(parseEthtoolInfo('driver: mlx5_core\nversion: 6.1.0\nfirmware-version: 28.39.1002 (MT_0000000838)\nbus-info: 0000:5e:00.0\n'))
      .toEqual({ driver: 'mlx5_core', firmware: '28.39.1002 (MT_0000000838)' });
    const settings = 'Settings for eth0:\n\tSupported ports: [ FIBRE ]\n\tSupported link modes:   25000baseCR/Full\n\t                        100000baseCR4/Full\n\tSupported pause frame use: Symmetric\n\tSpeed: 25000Mb/s\n';
    expect(parseEthtoolMaxSpeed(settings)).toBe(100000);
    expect(parseEthtoolMaxSpeed('Settings for veth0:\n\tSpeed: 10000Mb/s\n')).toBeNull();
  });
});

describe('ipmitool', () => {
  it('reads the BMC firmware and address; 0.0.0.0 is no address', async () => {
    const { parseIpmiLanPrint, parseIpmiMcInfo } = await import('./ipmitool.ts');
    expect(parseIpmiMcInfo('Device ID                 : 32\nFirmware Revision         : 7.10\nIPMI Version              : 2.0\nManufacturer Name         : DELL Inc\n'))
      .toEqual({ firmwareRevision: '7.10', manufacturer: 'DELL Inc' });
    expect(parseIpmiLanPrint('Set in Progress         : Set Complete\nIP Address Source       : DHCP Address\nIP Address              : 10.0.8.21\nMAC Address             : D0:8E:79:00:00:01\n'))
      .toEqual({ ipAddress: '10.0.8.21', macAddress: 'd0:8e:79:00:00:01' });
    expect(parseIpmiLanPrint('IP Address              : 0.0.0.0\n').ipAddress).toBe('');
  });
});

describe('nvidia-smi nvlink -e', () => {
  it('reads replay, recovery and CRC counters per link', async () => {
    const { parseNvlinkErrors } = await import('./nvlink.ts');
    const out = 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)\n\t Link 0: Replay Errors: 0\n\t Link 0: Recovery Errors: 2\n\t Link 0: CRC Errors: 5\n\t Link 1: Replay Errors: 1\n\t Link 1: Recovery Errors: 0\n\t Link 1: CRC Errors: 0\n';
    expect(parseNvlinkErrors(out)).toEqual([{ gpuIndex: 0, uuid: 'GPU-1', links: [{ replay: 0, recovery: 2, crc: 5 }, { replay: 1, recovery: 0, crc: 0 }] }]);
  });
});
