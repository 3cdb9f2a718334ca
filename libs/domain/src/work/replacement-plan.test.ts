import { describe, expect, it } from 'vitest';
import { pickSpare, type SpareCandidate } from './replacement-plan.ts';

const GiB = 1024 ** 3;
const spare = (id: string, extra: Partial<SpareCandidate> = {}): SpareCandidate => ({
  id, rack: 'r2', state: 'available', presence: 'online', severity: 'ok', admitted: true, acceptedAt: null, accepted: true, gpuModel: 'H100', gpuCount: 8, memoryBytes: 2048 * GiB, ...extra,
});
const profile = { gpuModel: 'H100', gpuCount: 8, minMemoryBytes: 1024 * GiB };
const failed = { id: 'bad', rack: 'r1' };

describe('pickSpare', () => {
  it('prefers the failed node\'s rack, then the lowest id', () => {
    expect(pickSpare(failed, profile, [spare('b'), spare('c', { rack: 'r1' }), spare('a')])).toEqual({ ok: true, spareId: 'c', sameRack: true });
    expect(pickSpare(failed, profile, [spare('b'), spare('a')])).toEqual({ ok: true, spareId: 'a', sameRack: false });
  });

  it.each<{ name: string; candidate: Partial<SpareCandidate> }>([
    { name: 'another GPU model', candidate: { gpuModel: 'A100' } },
    { name: 'fewer GPUs', candidate: { gpuCount: 4 } },
    { name: 'too little memory', candidate: { memoryBytes: 512 * GiB } },
    { name: 'not available', candidate: { state: 'active' } },
    { name: 'offline', candidate: { presence: 'offline' } },
    { name: 'critical itself', candidate: { severity: 'critical' } },
    // A spare with a thermal-slowdown warning was picked while a healthy one was free (issue 22).
    { name: 'a warning (thermal slowdown, say)', candidate: { severity: 'warning' } },
    { name: 'no admission (discovered, not yet accepted)', candidate: { admitted: false } },
    { name: 'no passed acceptance where it is required', candidate: { accepted: false } },
  ])('never picks a node with $name', ({ candidate }) => {
    const pick = pickSpare(failed, profile, [spare('x', candidate)]);
    expect(pick.ok).toBe(false);
    expect(!pick.ok && pick.reason).toMatch(/^no available, online, healthy \(no warning\), admitted, accepted node matches 8x H100/);
  });

  it('picks the healthy spare over one with a warning, even in another rack', () => {
    expect(pickSpare(failed, profile, [spare('a', { rack: 'r1', severity: 'warning' }), spare('b')])).toEqual({ ok: true, spareId: 'b', sameRack: false });
  });

  it('prefers, within a rack, the most recently accepted', () => {
    const at = (minute: number) => new Date(Date.UTC(2026, 10, 28, 12, minute));
    expect(pickSpare(failed, profile, [spare('a', { acceptedAt: at(1) }), spare('b', { acceptedAt: at(5) }), spare('c', { rack: 'r1', acceptedAt: at(0) })]))
      .toEqual({ ok: true, spareId: 'c', sameRack: true });
    expect(pickSpare(failed, profile, [spare('a', { acceptedAt: at(1) }), spare('b', { acceptedAt: at(5) }), spare('c')])).toEqual({ ok: true, spareId: 'b', sameRack: false });
  });

  it('never picks the failed node or a node already promised elsewhere', () => {
    expect(pickSpare(failed, profile, [spare('bad'), spare('x')], new Set(['x'])).ok).toBe(false);
  });
});
