import { describe, expect, it } from 'vitest';
import { allocationStart, nodeDataSince } from './node-tenancy.ts';
import type { LifecycleEvent } from './node-lifecycle.ts';

const at = (minute: number) => new Date(Date.UTC(2026, 10, 27, 10, minute));
const history = (...steps: Array<[LifecycleEvent, number]>) => steps.map(([event, minute]) => ({ event, at: at(minute) }));
const scoped = { tokenId: 't', name: 'b viewer', role: 'viewer' as const, tenantId: 'b' };
const operator = { ...scoped, tenantId: null };

describe('node tenancy', () => {
  it.each<[string, ReturnType<typeof history>, Date | null]>([
    ['never allocated', history(['inspect', 0], ['inspection-passed', 1]), null],
    ['allocated', history(['inspection-passed', 1], ['allocate', 2], ['provision', 3], ['provisioned', 4]), at(2)],
    ['allocated again after a release: the latest allocation', history(['allocate', 2], ['provisioned', 4], ['release', 5], ['released', 6], ['allocate', 7]), at(7)],
    ['failed and repaired within one allocation', history(['allocate', 2], ['fail', 3], ['repair', 4], ['repaired', 5]), at(2)],
    ['released, the next allocation not written yet', history(['allocate', 2], ['release', 5], ['released', 6]), null],
  ])('%s', (_case, steps, start) => {
    expect(allocationStart(steps)).toEqual(start);
  });

  it('clips a tenant-scoped token to the current allocation (to now when none stands), never an unscoped one', () => {
    const steps = history(['allocate', 2], ['release', 5], ['released', 6], ['allocate', 7]);
    expect(nodeDataSince(scoped, steps, at(30))).toEqual(at(7));
    expect(nodeDataSince(scoped, history(['allocate', 2], ['release', 5]), at(30))).toEqual(at(30));
    expect(nodeDataSince(operator, steps, at(30))).toBeNull();
  });
});
