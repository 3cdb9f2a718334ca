import { describe, expect, it } from 'vitest';
import { lowestBandwidth, NvbandwidthParseError, parseNvbandwidth } from './nvbandwidth.ts';

// The real outputs (NVIDIA's examples) are read in fixtures.test.ts.
describe('nvbandwidth output', () => {
  it('reads a device-to-device matrix with N/A on its diagonal and a SUM line', () => {
    const text = ['Running device_to_device_memcpy_read_ce.', 'memcpy CE GPU(row) <- GPU(column) bandwidth (GB/s)', '          0         1         2',
      '0       N/A    389.10    388.70', '1    389.00       N/A    201.30', '2    388.90    389.20       N/A', 'SUM device_to_device_memcpy_read_ce 2746.20'].join('\n');
    const [matrix] = parseNvbandwidth(text);
    expect(matrix?.rows[1]).toEqual({ index: 1, values: [389, null, 201.3] });
    expect(lowestBandwidth([matrix!], 'device_to_device_memcpy_read_ce')).toEqual({ gbs: 201.3, row: 1, column: 2 });
    expect(lowestBandwidth([matrix!], 'host_to_device_memcpy_ce')).toBeNull();
  });

  it('says what is wrong with a damaged matrix', () => {
    expect(() => parseNvbandwidth('Running x.\nmemcpy CE CPU(row) -> GPU(column) bandwidth (GB/s)\n 0 1\n0 6.20 fast\n')).toThrow(NvbandwidthParseError);
    expect(() => parseNvbandwidth('Running x.\nmemcpy CE CPU(row) -> GPU(column) bandwidth (GB/s)\n 0 1\n0 6.20\n')).toThrow(/not a row of 2 values/);
    expect(parseNvbandwidth('nvbandwidth: command not found')).toEqual([]);
  });
});
