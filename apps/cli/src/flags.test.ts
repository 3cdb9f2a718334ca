// Flag values are checked before anything is sent, against the API's own schemas.
import { describe, expect, it } from 'vitest';
import { CreateApiToken, FailureRateQuery, ReimageBatch } from '@metalfleet/api';
import { allowedValues, integerIn } from './flags.ts';

describe('integerIn', () => {
  const priority = integerIn(ReimageBatch.properties.priority);
  it.each([['0', 0], ['5', 5], ['-1000', -1000], [' 7 ', 7], ['+3', 3]])('takes %j as %d', (text, value) => expect(priority(text)).toBe(value));
  it.each(['high', '', '2.5', '1e3', '1001', '-1001', '0x10'])('refuses %j, saying what is allowed', (text) => {
    expect(() => priority(text)).toThrow('expected a whole number from -1000 to 1000');
  });
  it('reads the bounds of a nullable integer (a token\'s lifetime)', () => {
    const ttl = integerIn(CreateApiToken.properties.ttlSeconds);
    expect(ttl('3600')).toBe(3600);
    expect(() => ttl('59')).toThrow(/from 60 to 316224000/);
  });
});

describe('allowedValues', () => {
  it('lists an enum\'s values in order', () => {
    expect(allowedValues(FailureRateQuery.properties.window)).toEqual(['1h', '6h', '24h', '7d', '30d']);
  });
});
