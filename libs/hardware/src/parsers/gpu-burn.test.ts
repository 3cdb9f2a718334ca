// gpu_burn's ways to go wrong (its real output is read in fixtures.test.ts).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GpuBurnParseError, parseGpuBurn } from './gpu-burn.ts';

const real = readFileSync(new URL('../../fixtures/nvidia/microsoft__superbenchmark__gpu_burn.log', import.meta.url), 'utf8');

describe('gpu_burn output', () => {
  it('reads a faulty GPU and its error count', () => {
    const text = [
      "100.0%  proc'd: 4522 (16942 Gflop/s) - 4522 (17177 Gflop/s)   errors: 0 - 37 (WARNING!)   temps: 71 C - 88 C ",
      'Killing processes.. done', '', 'Tested 2 GPUs:', '\tGPU 0: OK', '\tGPU 1: FAULTY', '',
    ].join('\n');
    expect(parseGpuBurn(text).gpus).toEqual([{ index: 0, result: 'OK', errors: 0, peakTempC: 71 }, { index: 1, result: 'FAULTY', errors: 37, peakTempC: 88 }]);
  });

  it('refuses a run cut short (no summary), or a summary missing a GPU', () => {
    expect(() => parseGpuBurn(real.slice(0, real.indexOf('Tested')))).toThrow(GpuBurnParseError);
    expect(() => parseGpuBurn('Tested 2 GPUs:\n\tGPU 0: OK\n')).toThrow('"Tested 2 GPUs:" followed by 1 GPU verdicts');
  });
});
