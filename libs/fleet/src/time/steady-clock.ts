// The manager's clock. Every deadline, expiry, last-seen time and record the
// manager writes is in one time base, so a step of the host clock (NTP after a
// long drift, a VM resumed, `date -s`) must not move that base: a +1 h step
// would fail every in-flight reimage at once and mark every node offline, a
// -1 h step would stretch every timeout by an hour.
//
// So the manager's time advances with the monotonic clock (which NTP slews but
// never steps), and follows the host clock only gradually: when the two
// differ, the manager's time runs at most `slewRate` faster or slower until they
// agree again (10 %: a 1 h step is absorbed in 10 h, and no duration measured
// meanwhile is off by more than 10 %). A difference beyond `adoptBeyondMs` is
// not a glitch to ride out (the host started with a clock far off and synced
// later): it is adopted at once, and reported. docs/time.md tells the story.

/** What the manager reads the time from (injected: tests step a fake one). */
export interface Clock {
  /** The manager's time: for records, and for every deadline, expiry and last-seen time it compares with them. */
  now(): Date;
  /** Milliseconds from an arbitrary origin that never go back or jump: for durations within this process. */
  monotonic(): number;
}

/** The host's two clocks, in milliseconds. */
export interface ClockSources {
  wallMs(): number;
  monotonicMs(): number;
}

export interface ClockStep {
  /** Host clock minus the manager's time when the difference was noticed. */
  gapMs: number;
  /** true: too far off to absorb, the manager's time jumped to the host's. */
  adopted: boolean;
}

export interface SteadyClockOptions {
  /** The manager's time at start (default: the host clock); see clock-anchor.ts for a restart. */
  startMs?: number;
  /** How much faster or slower than real time the manager's time may run while it catches up with the host clock. */
  slewRate?: number;
  /** A difference larger than this is adopted at once. */
  adoptBeyondMs?: number;
  /** A difference this large is reported (once, until the clocks agree again). */
  reportBeyondMs?: number;
  onStep?: (step: ClockStep) => void;
}

export interface SteadyClock extends Clock {
  /** Host clock minus the manager's time, now (0 when they agree). */
  offsetMs(): number;
}

export const steadyClockDefaults = { slewRate: 0.1, adoptBeyondMs: 6 * 3_600_000, reportBeyondMs: 1000 } as const;

/** The host's clocks; the monotonic one as the system keeps it (CLOCK_MONOTONIC: the same in every process until the host reboots). */
export const systemClockSources: ClockSources = { wallMs: () => Date.now(), monotonicMs: () => Number(process.hrtime.bigint()) / 1e6 };

export function createSteadyClock(sources: ClockSources = systemClockSources, options: SteadyClockOptions = {}): SteadyClock {
  const slewRate = options.slewRate ?? steadyClockDefaults.slewRate;
  const adoptBeyondMs = options.adoptBeyondMs ?? steadyClockDefaults.adoptBeyondMs;
  const reportBeyondMs = options.reportBeyondMs ?? steadyClockDefaults.reportBeyondMs;
  let lastMono = sources.monotonicMs();
  let steady = options.startMs ?? sources.wallMs();
  let reported = false;

  function read(): number {
    const mono = sources.monotonicMs();
    const elapsed = Math.max(0, mono - lastMono);
    lastMono = mono;
    const free = steady + elapsed;
    const gap = sources.wallMs() - free;
    if (Math.abs(gap) > adoptBeyondMs) {
      steady = free + gap;
      options.onStep?.({ gapMs: gap, adopted: true });
      reported = false;
      return steady;
    }
    const most = elapsed * slewRate;
    steady = free + Math.max(-most, Math.min(most, gap));
    const off = Math.abs(gap) > reportBeyondMs;
    if (off && !reported) options.onStep?.({ gapMs: gap, adopted: false });
    reported = off;
    return steady;
  }

  return {
    now: () => new Date(Math.floor(read())),
    monotonic: () => sources.monotonicMs(),
    offsetMs: () => sources.wallMs() - read(),
  };
}
