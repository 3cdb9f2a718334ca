// Admission control for registrations, sized by what the manager finishes in time.
//
// An agent gives its registration 15 s. A fixed number at once (64) did not
// keep under that on a starved host: with everything on one core, 64 at once
// took 13 s and more each, the agents' deadlines passed before the answers
// came, every agent asked again, and none of 10,000 registered in 120 s while
// the manager wrote nodes that no agent heard of. So:
//  - at most `limit` run at once, where the limit follows Little's law: the
//    measured throughput times the target time (default 3 s), between
//    `minConcurrent` and `concurrent`. It rises when registrations are quick
//    and falls when they are slow;
//  - beyond it a registration is refused at once (`unavailable`) with a
//    retry-after that places its agent in a virtual line: each refusal takes
//    the next free slot, so refused agents come back about as fast as the
//    manager registers, not all together. Agents add jitter and may come back
//    early; they are refused again, with a slot further on. A source address
//    holds one place in the line at a time: a refusal is counted before anyone
//    is authenticated, and one hostile client asking 20,000 times pushed every
//    honest agent's hint to 10 minutes (hostile review); now it pushes the line
//    by one slot. Refused again, an address's place moves on a slot, so that
//    agents sharing it (a NAT) are spread out, and a client asking again and
//    again delays only itself.
//  - the line counts agents, not seconds: it moves on at the measured
//    throughput, and a hint is the agents ahead at the throughput of now (a
//    line in seconds kept the spacing of the throughput measured while a
//    storm's simulators were starting, ~1 a second, and the machine sat idle).
//    It runs half again as fast as the throughput, and no hint is longer than
//    a minute: agents come back jittered (on average later than told), and a
//    hint given cannot be taken back, so only more agents than it finishes
//    show a manager that it has become faster. A shorter longest hint starts a
//    storm quicker and costs more refusals in a long one (on a fake clock,
//    20,000 agents behind one address: 30 s, 60 s, 2 min gave 1,173, 1,178,
//    1,180 s and 254,000, 153,000, 89,000 refusals; 3,000: 198, 223, 276 s).
import { DomainError } from '@metalfleet/domain';

export interface RegistrationAdmissionOptions {
  /** Most registrations processed at once (0: no limit, and no refusals). */
  concurrent: number;
  /** The shortest retry-after hint (the line adds to it). */
  retryAfterMs: number;
  /** How long a registration should take, queueing included (default 3 s: well inside the agents' 15 s). */
  targetMs?: number;
  /** Fewest registrations at once, however slow they are (default 4). */
  minConcurrent?: number;
  /** Longest retry-after hint (default 1 min): an agent told longer waits on a throughput measured long ago. */
  maxRetryAfterMs?: number;
  /** Monotonic milliseconds (default performance.now). */
  now?: () => number;
}

export interface RegistrationAdmission {
  /**
   * Runs `work` in a slot, or throws DomainError('unavailable', …, { retryAfterMs }) when every slot is taken.
   * `source`: the caller's address; it holds one place in the line at a time, moved on a slot at each refusal.
   */
  run<T>(work: () => Promise<T>, source?: string): Promise<T>;
  /** Registrations refused so far. */
  refused(): number;
  active(): number;
  /** Registrations allowed at once now. */
  limit(): number;
}

export const defaultRegistrationAdmission: RegistrationAdmissionOptions = { concurrent: 64, retryAfterMs: 2000 };

/** Throughput is measured over windows of this length. */
const windowMs = 1000;

/** The line moves on this much faster than the measured throughput (see the head of this file). */
const overbook = 1.5;

/** Slots a second however slow the manager was measured: a line that never moved gave hints of NaN ms (hostile review). */
const slowestPace = 0.1;

export function createRegistrationAdmission(options: RegistrationAdmissionOptions): RegistrationAdmission {
  const now = options.now ?? (() => performance.now());
  const targetMs = options.targetMs ?? 3000;
  const minConcurrent = Math.min(options.minConcurrent ?? 4, options.concurrent);
  // Never below the shortest hint (--registration-retry-after-s may ask for more than a minute).
  const maxRetryAfterMs = Math.max(options.retryAfterMs, options.maxRetryAfterMs ?? 60_000);
  let active = 0;
  let refused = 0;
  let limit = Math.max(minConcurrent, Math.min(options.concurrent, 16));
  /** Registrations finished per second (null until first measured). */
  let rate: number | null = null;
  let windowStart = now();
  let windowDone = 0;
  /** Whether the limit was reached in this window: only then does the throughput say what the manager can do. */
  let windowFull = false;

  // The line, in slots: `position` is the slot whose turn it is, moved on at the pace since `movedAt`; `lineEnd`
  // the last slot given; `places` the slot of each source address that holds one.
  let position = 0;
  let movedAt = now();
  let lineEnd = 0;
  const places = new Map<string, number>();
  /** Slots a second: the measured throughput (until measured: the limit each second), half again; never still. */
  const pace = () => Math.max(rate ?? limit, minConcurrent / (targetMs / 1000), slowestPace) * overbook;
  const moveLine = (at: number) => {
    position += ((at - movedAt) / 1000) * pace();
    movedAt = at;
  };

  const measure = (at: number) => {
    const elapsed = at - windowStart;
    if (elapsed < windowMs) return;
    moveLine(at);
    const measured = (windowDone * 1000) / elapsed;
    // A window that never filled measures the demand, not the manager: it may raise the estimate, never lower it.
    rate = rate === null ? measured : windowFull ? (rate + measured) / 2 : Math.max(rate, measured);
    limit = Math.round(Math.max(minConcurrent, Math.min(options.concurrent, (rate * targetMs) / 1000)));
    windowStart = at;
    windowDone = 0;
    windowFull = active >= limit;
  };

  /** The slot given to a refused agent from `source`. */
  const placeFor = (source: string | undefined, earliest: number, latest: number): number => {
    const held = source === undefined ? undefined : places.get(source);
    if (source !== undefined && held !== undefined && held > position) {
      // Refused again while it holds a place: the address's own place moves a slot on, the line stays. Agents behind
      // one address (a site's NAT, a simulator) are spread a slot apart instead of all sent back at one moment
      // (20,000 simulated nodes came back together and refusals took the CPU registrations needed); one client
      // asking again and again pushes back only its own address.
      const next = Math.min(latest, Math.max(earliest, held + 1));
      places.set(source, next);
      return next;
    }
    lineEnd = Math.min(latest, Math.max(earliest, lineEnd + 1));
    if (source !== undefined) {
      places.set(source, lineEnd);
      if (places.size > 100_000) for (const [key, slot] of places) if (slot <= position) places.delete(key);
    }
    return lineEnd;
  };

  const refuse = (at: number, source: string | undefined): DomainError => {
    refused += 1;
    moveLine(at);
    const slotsPerMs = pace() / 1000;
    const slot = placeFor(source, position + options.retryAfterMs * slotsPerMs, position + maxRetryAfterMs * slotsPerMs);
    const retryAfterMs = Math.round((slot - position) / slotsPerMs);
    return new DomainError('unavailable', `the manager is busy with ${active} other registrations; retry after ${retryAfterMs} ms`, { retryAfterMs });
  };

  return {
    async run(work, source) {
      const at = now();
      measure(at);
      if (options.concurrent > 0 && active >= limit) {
        windowFull = true;
        throw refuse(at, source);
      }
      active += 1;
      if (active >= limit) windowFull = true;
      try {
        return await work();
      } finally {
        active -= 1;
        windowDone += 1;
        measure(now());
      }
    },
    refused: () => refused,
    active: () => active,
    limit: () => limit,
  };
}
