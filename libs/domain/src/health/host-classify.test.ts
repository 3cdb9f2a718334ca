import { describe, expect, it } from 'vitest';
import { classifyDcgmHealth, classifyDisks, classifyMemoryControllers, classifyNics, classifyNvlinkErrors, classifyNvlinks } from './host-classify.ts';
import type { DiskHealth } from './host-snapshot.ts';

const disk = (p: Partial<DiskHealth>): DiskHealth => ({
  device: '/dev/nvme0', model: 'M', serial: 'S', smartPassed: true, nvmeCriticalWarning: 0, percentageUsed: 1, mediaErrors: 0, reallocatedSectors: null, pendingSectors: null, ...p,
});
const codes = (fs: Array<{ code: string; severity: string; remediation: string }>) => fs.map((f) => `${f.code} ${f.severity} ${f.remediation}`);

describe('host classification', () => {
  it.each([
    ['healthy NVMe', disk({}), []],
    ['SMART failed', disk({ smartPassed: false }), ['smart-failed critical replace']],
    ['NVMe critical warning', disk({ nvmeCriticalWarning: 0x4 }), ['nvme-critical-warning critical replace']],
    ['worn out', disk({ percentageUsed: 101 }), ['disk-worn-out warning replace']],
    ['ATA reallocated sectors', disk({ device: '/dev/sda', reallocatedSectors: 8 }), ['disk-bad-sectors warning none']],
  ])('%s', (_n, d, expected) => {
    expect(codes(classifyDisks([d]))).toEqual(expected);
  });

  it('EDAC: uncorrectable is critical, many corrected is a warning', () => {
    expect(codes(classifyMemoryControllers([{ controller: 'mc0', correctable: 3, uncorrectable: 0 }]))).toEqual([]);
    expect(codes(classifyMemoryControllers([{ controller: 'mc0', correctable: 500, uncorrectable: 0 }]))).toEqual(['edac-correctable-high warning none']);
    expect(codes(classifyMemoryControllers([{ controller: 'mc1', correctable: 0, uncorrectable: 1 }]))).toEqual(['edac-uncorrectable critical replace']);
  });

  it('NICs: down when expected up, slower than the fastest supported mode', () => {
    expect(codes(classifyNics([{ name: 'eth0', linkUp: false, speedMbps: null, maxSpeedMbps: 100000, expectedUp: true }]))).toEqual(['nic-link-down critical none']);
    expect(codes(classifyNics([{ name: 'eth1', linkUp: false, speedMbps: null, maxSpeedMbps: null, expectedUp: false }]))).toEqual([]);
    expect(codes(classifyNics([{ name: 'eth0', linkUp: true, speedMbps: 25000, maxSpeedMbps: 100000, expectedUp: true }]))).toEqual(['nic-speed-degraded warning none']);
  });

  it('NVLink: inactive links are down, unknown (MIG) is not', () => {
    expect(codes(classifyNvlinks([{ gpuIndex: 0, uuid: 'u', links: [26.5, null, 26.5] }], 3))).toEqual(['nvlink-down critical reset-gpu']);
    expect(classifyNvlinks([{ gpuIndex: 0, uuid: 'u', links: [] }], 18)).toEqual([]);
  });

  it('DCGM health: failures by system', () => {
    expect(codes(classifyDcgmHealth([{ gpuId: '0', system: 'Memory system', verdict: 'fail', message: 'DBE' }, { gpuId: '1', system: 'Thermal system', verdict: 'warn', message: 'hot' }])))
      .toEqual(['dcgm-memory-system critical reset-gpu', 'dcgm-thermal-system warning none']);
  });

  it('NVLink errors: recovery is critical, replay a warning, many CRC a warning', () => {
    expect(codes(classifyNvlinkErrors([{ gpuIndex: 0, link: 3, replay: 0, recovery: 1, crc: 0 }]))).toEqual(['nvlink-recovery-errors critical reset-gpu']);
    expect(codes(classifyNvlinkErrors([{ gpuIndex: 0, link: 3, replay: 2, recovery: 0, crc: 5000 }]))).toEqual(['nvlink-replay-errors warning none', 'nvlink-crc-errors warning none']);
    expect(classifyNvlinkErrors([{ gpuIndex: 0, link: 3, replay: 0, recovery: 0, crc: 10 }])).toEqual([]);
  });
});
