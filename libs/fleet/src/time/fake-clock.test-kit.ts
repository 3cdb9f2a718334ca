// A host clock for tests: `advance` lets real time pass (both clocks move),
// `step` sets the wall clock only, as NTP or `date -s` would.
import type { ClockSources } from './steady-clock.ts';

export interface FakeHostClock extends ClockSources {
  advance(ms: number): void;
  step(ms: number): void;
}

export function fakeHostClock(startMs = Date.parse('2026-01-01T00:00:00Z')): FakeHostClock {
  let wall = startMs;
  let mono = 1000;
  return {
    wallMs: () => wall,
    monotonicMs: () => mono,
    advance(ms) {
      wall += ms;
      mono += ms;
    },
    step(ms) {
      wall += ms;
    },
  };
}
