import { describe, expect, it } from 'vitest';
import type { HealthCondition } from './health-condition.ts';
import { gpuBus, gpuHealthCells, gpuIndexOfComponent } from './gpu-health-map.ts';

const since = new Date('2026-11-22T00:00:00Z');
const c = (component: string, code: string, severity: HealthCondition['severity']): HealthCondition => ({ component, code, severity, remediation: 'none', message: code, since });
const gpus = [{ index: 0, pciBusId: '00000000:18:00.0' }, { index: 1, pciBusId: '00000000:9B:00.0' }];

describe('gpuHealthCells', () => {
  it('puts each condition on the GPU at its PCI bus, the worst one winning; the rest on the host', () => {
    expect(gpuHealthCells(gpus, 2, [c('gpu:0000:9b:00', 'xid-13', 'warning'), c('gpu:0000:9b:00', 'xid-79', 'critical'), c('disk:/dev/nvme0n1', 'smart', 'warning'), c('gpu:0000:18:00', 'fine', 'ok')])).toEqual({
      gpus: [{ index: 0, bus: '0000:18:00', severity: 'ok', codes: [] }, { index: 1, bus: '0000:9b:00', severity: 'critical', codes: ['xid-13', 'xid-79'] }],
      host: 'warning', hostCodes: ['disk:/dev/nvme0n1 smart'],
    });
  });

  it('gives a GPU gone from the inventory (fallen off the bus) a cell of its own', () => {
    const result = gpuHealthCells([gpus[0] ?? { index: 0, pciBusId: '' }], 1, [c('gpu:0000:9b:00', 'xid-79', 'critical')]);
    expect(result.gpus).toEqual([{ index: 0, bus: '0000:18:00', severity: 'ok', codes: [] }, { index: null, bus: '0000:9b:00', severity: 'critical', codes: ['xid-79'] }]);
    expect(result.host).toBe('ok');
  });

  it('reads the bus from a PCI address or a component, and finds the GPU a component names', () => {
    expect([gpuBus('00000000:9B:00.0'), gpuBus('0000:9b:00.0'), gpuBus('gpu:0000:9b:00')]).toEqual(['0000:9b:00', '0000:9b:00', '0000:9b:00']);
    expect(gpuIndexOfComponent(gpus, 'gpu:0000:9b:00')).toBe(1);
    expect(gpuIndexOfComponent(gpus, 'gpu:0000:48:00')).toBeNull();
  });
});
