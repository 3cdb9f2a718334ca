import { describe, expect, it } from 'vitest';
import { number, sumKnown, text, yesNo } from './values.ts';

describe('nvidia-smi values', () => {
  it.each([
    ['41 C', 41], ['69.85 W', 69.85], ['81559 MiB', 81559], ['16x', 16], ['0 us', 0], ['64 bank(s)', 64], ['-2 C', -2], ['0x00000040', 64], ['100 %', 100],
    ['N/A', null], ['[N/A]', null], ['[Not Supported]', null], ['Unknown Error', null], ['[GPU requires reset]', null],
    ['Requested functionality has been deprecated', null], ['', null], [undefined, null], [{}, null],
  ])('%s reads as %s', (raw, expected) => {
    expect(number(raw)).toBe(expected);
  });

  it('never reads a sentinel as 0, and sums only what is known', () => {
    expect(sumKnown(number('N/A'), number('[Not Supported]'))).toBeNull();
    expect(sumKnown(number('N/A'), number('3'))).toBe(3);
    expect(text('  N/A ')).toBeNull();
    expect(yesNo('Active')).toBe(true);
    expect(yesNo('Not Active')).toBe(false);
    expect(yesNo('N/A')).toBeNull();
  });
});
