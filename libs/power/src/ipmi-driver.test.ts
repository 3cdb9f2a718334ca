import { describe, expect, it } from 'vitest';
import { parsePowerStatus } from './ipmi-driver.ts';

describe('parsePowerStatus', () => {
  it.each([
    ['Chassis Power is on\n', 'on'],
    ['Chassis Power is off\n', 'off'],
    ['Error: Unable to establish IPMI v2 / RMCP+ session\n', null],
  ])('%j → %s', (output, state) => {
    expect(parsePowerStatus(output)).toBe(state);
  });
});
