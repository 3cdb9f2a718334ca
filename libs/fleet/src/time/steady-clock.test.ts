import { describe, expect, it } from 'vitest';
import { fakeHostClock } from './fake-clock.test-kit.ts';
import { createSteadyClock, type ClockStep } from './steady-clock.ts';

const hour = 3_600_000;

describe('steady clock', () => {
  it('follows the host clock while nothing steps it', () => {
    const host = fakeHostClock();
    const clock = createSteadyClock(host);
    host.advance(90_000);
    expect(clock.now().getTime()).toBe(host.wallMs());
    expect(clock.offsetMs()).toBe(0);
  });

  it.each([hour, -hour])('does not jump when the host clock steps by %i ms, and catches up at 10 % of the time that passes', (step) => {
    const host = fakeHostClock();
    const steps: ClockStep[] = [];
    const clock = createSteadyClock(host, { onStep: (s) => steps.push(s) });
    const before = clock.now().getTime();
    host.step(step);
    host.advance(60_000);
    // A minute later the manager's time moved a minute, give or take 10 %, not an hour.
    const after = clock.now().getTime() - before;
    expect(after).toBeGreaterThanOrEqual(54_000);
    expect(after).toBeLessThanOrEqual(66_000);
    expect(steps).toEqual([{ gapMs: step, adopted: false }]);
    for (let i = 0; i < 10 * 60; i += 1) {
      host.advance(60_000);
      clock.now();
    }
    expect(clock.now().getTime()).toBe(host.wallMs());
  });

  it('never goes back, however the host clock moves', () => {
    const host = fakeHostClock();
    const clock = createSteadyClock(host);
    let last = clock.now().getTime();
    for (const step of [-hour, 5000, -30_000, -hour, 0]) {
      host.step(step);
      host.advance(1000);
      const t = clock.now().getTime();
      expect(t).toBeGreaterThan(last);
      last = t;
    }
  });

  it('adopts a host clock that is more than 6 h off at once, and says so', () => {
    const host = fakeHostClock(Date.parse('2020-01-01T00:00:00Z'));
    const steps: ClockStep[] = [];
    const clock = createSteadyClock(host, { onStep: (s) => steps.push(s) });
    host.step(Date.parse('2026-01-01T00:00:00Z') - host.wallMs());
    expect(clock.now().toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(steps).toHaveLength(1);
    expect(steps[0]?.adopted).toBe(true);
  });

  it('starts at the time it is given (a restart on the same boot), and catches up from there', () => {
    const host = fakeHostClock();
    const clock = createSteadyClock(host, { startMs: host.wallMs() - hour });
    expect(clock.offsetMs()).toBe(hour);
  });
});
