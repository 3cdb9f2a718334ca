import { describe, expect, it } from 'vitest';
import { allocateId, parsePool, vlanRange, vniRange } from './id-pool.ts';

const pool = parsePool('VLAN', '100-103', vlanRange);
const set = (...ids: number[]) => new Set(ids);

describe('allocateId', () => {
  it.each([
    { what: 'empty pool usage → the first id', allocated: set(), onPorts: set(), reserved: set(), want: 100 },
    { what: 'skips ids held by tenants', allocated: set(100, 101), onPorts: set(), reserved: set(), want: 102 },
    { what: 'a released id still on a port is not reused', allocated: set(), onPorts: set(100), reserved: set(), want: 101 },
    { what: 'once the ports are moved off it, the id is reused', allocated: set(101), onPorts: set(), reserved: set(), want: 100 },
    { what: 'never the reserved provisioning VLAN', allocated: set(), onPorts: set(), reserved: set(100), want: 101 },
  ])('$what', ({ allocated, onPorts, reserved, want }) => {
    expect(allocateId(pool, { allocated, onPorts, reserved })).toBe(want);
  });

  it('refuses with a conflict when every id is taken', () => {
    expect(() => allocateId(pool, { allocated: set(100, 101), onPorts: set(102, 103) })).toThrow(expect.objectContaining({ code: 'conflict', message: 'VLAN pool 100-103 has no free id' }));
  });

  it('never gives two tenants one id, however allocations and releases interleave', () => {
    const held = new Set<number>();
    const steps = ['a', 'a', 'r100', 'a', 'a', 'r102', 'a', 'a'];
    for (const step of steps) {
      if (step === 'a') {
        const id = allocateId(pool, { allocated: held, onPorts: new Set() });
        expect(held.has(id)).toBe(false);
        held.add(id);
      } else held.delete(Number(step.slice(1)));
    }
    expect([...held].sort()).toEqual([100, 101, 102, 103]);
  });
});

describe('parsePool', () => {
  it.each(['0-10', '4000-4095', '10-5', 'ten-twenty', '5'])('refuses %s as a VLAN pool', (text) => {
    expect(() => parsePool('VLAN', text, vlanRange)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });

  it('takes VNIs up to 2^24 - 1', () => {
    expect(parsePool('VNI', '10000-16777215', vniRange)).toEqual({ kind: 'VNI', first: 10000, last: 16_777_215 });
  });
});
