import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore } from '@metalfleet/store';
import { fakeHostClock } from './fake-clock.test-kit.ts';
import { hostBootId, openManagerClock, writeClockAnchor, type ClockAnchor } from './clock-anchor.ts';
import { downtimeAtStart, downtimeMs, maxDowntimeMs } from './downtime.ts';

const hour = 3_600_000;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the manager\'s downtime at a start', () => {
  it.each([
    { name: 'no clock.json: unknown, nothing moved', lastRunAt: null, storeWroteAt: 0, expected: 0 },
    { name: 'a fresh clock.json: from it', lastRunAt: -30_000, storeWroteAt: -40_000, expected: 30_000 },
    { name: 'a stale clock.json: from the store\'s later write', lastRunAt: -3 * hour, storeWroteAt: -30_000, expected: 30_000 },
    { name: 'an empty store', lastRunAt: -30_000, storeWroteAt: null, expected: 30_000 },
    { name: 'a store write after now (a clock adopted back): none', lastRunAt: -30_000, storeWroteAt: 60_000, expected: 0 },
    { name: 'days (a host reboot with its clock far off): the cap', lastRunAt: -72 * hour, storeWroteAt: null, expected: maxDowntimeMs },
  ])('$name', ({ lastRunAt, storeWroteAt, expected }) => {
    const now = new Date('2026-11-27T12:00:00Z');
    const at = (ms: number | null) => (ms === null ? null : new Date(now.getTime() + ms));
    expect(downtimeMs(now, { lastRunAt: at(lastRunAt), storeWroteAt: at(storeWroteAt) })).toBe(expected);
  });

  it.skipIf(hostBootId() === null)('after clock.json writes failed for hours (a full disk) is the time it was really down, not those hours', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mf-downtime-')), 'clock.json');
    dirs.push(join(file, '..'));
    const host = fakeHostClock();
    const store = openSqliteFleetStore({ path: ':memory:' });
    let diskFull = false;
    const write = (path: string, anchor: ClockAnchor) => {
      if (diskFull) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      writeClockAnchor(path, anchor);
    };
    const first = openManagerClock(file, () => undefined, host, write);
    await store.createNode({ id: 'n1', hostname: 'n1', identity: { systemUuid: 'u1', systemSerial: '', chassisSerial: '', boardSerial: '', macs: [], bmcAddress: '' },
      inventory: emptyInventory(), agentVersion: '', credentialHash: 'h', at: first.now() });
    first.save();
    // The disk fills: every sweep's write of clock.json fails for three hours, while the manager works on
    // (its store's writes go through: PostgreSQL elsewhere, or SQLite's WAL reusing its space).
    diskFull = true;
    let failedFrom: Date | null = null;
    for (let sweep = 0; sweep < 3 * 240; sweep += 1) {
      host.advance(15_000);
      failedFrom ??= first.now();
      expect(() => first.save()).toThrow(/ENOSPC/);
      await store.markSeenMany([['n1', first.now()]]);
    }
    // The episode is visible while it lasts: since when, and how old the anchor a restart would find is.
    expect(first.saveFailingSince()).toEqual(failedFrom);
    expect(first.anchorAgeMs()).toBe(3 * hour);
    // Killed (no clean stop, which could not have written it either), and started again 30 s later.
    host.advance(30_000);
    const second = openManagerClock(file, () => undefined, host, write);
    expect(second.now().getTime() - second.lastRunAt!.getTime()).toBe(3 * hour + 30_000);
    // Before the fix the deadlines in flight moved by the anchor's age: 3 h 30 s.
    expect(await downtimeAtStart(second, store)).toBe(30_000);

    // The disk has room again: the next write clears the episode.
    diskFull = false;
    second.save();
    expect(second.saveFailingSince()).toBeNull();
    expect(second.anchorAgeMs()).toBe(0);
    await store.close();
  });
});
