import { describe, expect, it } from 'vitest';
import { emptyGpuSnapshot, type GpuSnapshot } from './gpu-snapshot.ts';
import { genericThermalLimits, gpuThermalLimits, modelThermalLimits } from './gpu-thermal-limits.ts';

function gpu(model: string, temperature: Partial<GpuSnapshot['temperature']>): GpuSnapshot {
  const g = emptyGpuSnapshot(0);
  g.model = model;
  g.temperature = { ...g.temperature, ...temperature };
  return g;
}
const summary = (g: GpuSnapshot) => {
  const l = gpuThermalLimits(g);
  return `${l.slowdown.celsius}/${l.shutdown.celsius} ${l.slowdown.source}/${l.shutdown.source} hbm ${l.memoryMax ? `${l.memoryMax.celsius} ${l.memoryMax.source}` : 'none'}`;
};

describe('gpuThermalLimits', () => {
  const cases: Array<[string, GpuSnapshot, string]> = [
    ['the driver\'s own numbers first', gpu('NVIDIA A100-SXM4-80GB', { slowdownC: 88, shutdownC: 91, memoryMaxC: 94 }), '88/91 reported/reported hbm 94 reported'],
    ['T.Limit with its offsets (Hopper -2 / -8)', gpu('NVIDIA H100 80GB HBM3', { gpuC: 59, tlimitC: 26, slowdownTlimitC: -2, shutdownTlimitC: -8 }), '87/93 t-limit/t-limit hbm none'],
    ['T.Limit alone: default offsets -2 / -5', gpu('NVIDIA B200', { gpuC: 40, tlimitC: 45 }), '87/90 t-limit/t-limit hbm none'],
    ['T.Limit without a current temperature: nothing to derive from', gpu('NVIDIA B200', { tlimitC: 45 }), '87/90 default/default hbm none'],
    ['a known model without fields (CSV)', gpu('NVIDIA A100-SXM4-40GB', { gpuC: 60 }), '89/92 model/model hbm 95 model'],
    ['V100S PCIe', gpu('Tesla V100S-PCIE-32GB', {}), '87/90 model/model hbm 85 model'],
    ['H100 SXM', gpu('NVIDIA H100 80GB HBM3', { gpuC: 60 }), '89/95 model/model hbm none'],
    ['H200 SXM', gpu('NVIDIA H200', {}), '89/95 model/model hbm none'],
    ['H200 NVL is another board: not the H200 row', gpu('NVIDIA H200 NVL', {}), '87/90 default/default hbm none'],
    ['H100 PCIe is another board: not the SXM row', gpu('NVIDIA H100 PCIe', {}), '87/90 default/default hbm none'],
    ['an unknown model: the generic limits', gpu('NVIDIA GB200', { gpuC: 95 }), '87/90 default/default hbm none'],
    ['one field reported, the other from the table', gpu('Tesla T4', { slowdownC: 93 }), '93/96 reported/model hbm none'],
  ];
  it.each(cases)('%s', (_name, g, expected) => {
    expect(summary(g)).toBe(expected);
  });

  it('the generic limits are no later than any data-centre row but Pascal\'s P100', () => {
    for (const row of modelThermalLimits.filter((r) => !/P100/.test(r.model))) {
      expect(genericThermalLimits.slowdownC, row.model).toBeLessThanOrEqual(row.slowdownC);
      expect(genericThermalLimits.shutdownC, row.model).toBeLessThanOrEqual(row.shutdownC);
    }
  });

  it('every row has slowdown below shutdown; each product name in the captures matches exactly one row', () => {
    for (const row of modelThermalLimits) expect(row.slowdownC, row.model).toBeLessThan(row.shutdownC);
    const names = ['NVIDIA A100-SXM4-80GB', 'NVIDIA A100-SXM4-40GB', 'Tesla V100-PCIE-32GB', 'Tesla V100S-PCIE-32GB', 'Tesla P100-PCIE-16GB', 'Tesla T4', 'NVIDIA A10G', 'NVIDIA H100 80GB HBM3', 'NVIDIA H200', 'NVIDIA L40S'];
    for (const name of names) expect(modelThermalLimits.filter((r) => r.match.test(name)), name).toHaveLength(1);
  });
});
