import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeHostClock } from './fake-clock.test-kit.ts';
import { hostBootId, openManagerClock, readClockAnchor, resumeFromAnchor } from './clock-anchor.ts';

const hour = 3_600_000;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const tempFile = () => {
  const dir = mkdtempSync(join(tmpdir(), 'mf-clock-'));
  dirs.push(dir);
  return join(dir, 'clock.json');
};

describe('clock anchor', () => {
  it.each([
    { name: 'same boot: the anchor plus the monotonic time since', bootId: 'b1', mono: 70_000, expected: 1_000_060_000 },
    { name: 'another boot: none', bootId: 'b2', mono: 70_000, expected: null },
    { name: 'no boot id on this host: none', bootId: null, mono: 70_000, expected: null },
    { name: 'a monotonic clock behind the anchor (not this boot after all): none', bootId: 'b1', mono: 5_000, expected: null },
  ])('$name', ({ bootId, mono, expected }) => {
    expect(resumeFromAnchor({ bootId: 'b1', monotonicMs: 10_000, steadyMs: 1_000_000_000 }, bootId, mono)).toBe(expected);
  });

  it('is ignored when it is missing or not an anchor', () => {
    const file = tempFile();
    expect(readClockAnchor(file)).toBeNull();
    writeFileSync(file, '{"bootId": 3}');
    expect(readClockAnchor(file)).toBeNull();
    writeFileSync(file, '');
    expect(readClockAnchor(file)).toBeNull();
  });

  it.skipIf(hostBootId() === null)('carries the manager\'s time across a restart on the same boot, whatever the host clock did meanwhile', () => {
    const file = tempFile();
    const host = fakeHostClock();
    const first = openManagerClock(file, () => undefined, host);
    expect(first.resumed).toBe(false);
    host.advance(60_000);
    first.save();
    const saved = first.now().getTime();
    // Down for 30 s, during which the host clock was stepped an hour ahead.
    host.advance(30_000);
    host.step(hour);
    const second = openManagerClock(file, () => undefined, host);
    expect(second.resumed).toBe(true);
    expect(second.now().getTime()).toBe(saved + 30_000);
    expect(second.offsetMs()).toBe(hour);
    // How long it was down (what reimage deadlines move by), whatever the host clock did meanwhile.
    expect(first.lastRunAt).toBeNull();
    expect(second.now().getTime() - second.lastRunAt!.getTime()).toBe(30_000);
  });
});
