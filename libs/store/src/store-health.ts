// Whether the store can do its work: an outage of the database (unreachable, its
// disk full, unable to write) is a state the manager rides out, not a crash or a
// 500. Such errors become `unavailable` (retryable, 503 at the HTTP edge, with a
// reason written for clients); the state changes once per episode (onChange, for
// the log), and while the store is down a probe retries with backoff, so /readyz
// turns ready again without waiting for traffic.
import { DomainError } from '@metalfleet/domain';
import { classifyStoreError, storeProblems, type ClassifiedProblem, type StoreProblem } from './store-problems.ts';

export { isConnectionError } from './store-problems.ts';

export interface StoreAvailability {
  available: boolean;
  /** Epoch ms since when the store has been in this state. */
  since: number;
  /** What is wrong; null while available. */
  problem: StoreProblem | null;
  /** What is wrong, for clients and /readyz (no driver text, no addresses); '' while available. */
  message: string;
  /** Why, in the driver's words (for the log); null while available. */
  reason: string | null;
  /** Store calls that failed, by problem, since the store was opened (/metrics). */
  errors: Readonly<Record<StoreProblem, number>>;
}

export interface StoreHealth {
  /** Runs `work`; a store problem marks the store down and is rethrown as `unavailable`. */
  watch<T>(work: () => Promise<T>): Promise<T>;
  /** For a synchronous driver: what to throw for `error` (`unavailable` for a store problem, which it records; else `error` itself). */
  translate(error: unknown): unknown;
  /** A connection-level error seen outside a call (an idle connection the server closed). */
  noteError(error: unknown): void;
  /** Probes the store now and returns its state. */
  check(): Promise<StoreAvailability>;
  /** Stops the background probe (the store is closing). */
  stop(): void;
}

/** A problem found without a failed call (free disk space below the floor), with the driver-style reason for the log. */
export interface PrecheckProblem extends ClassifiedProblem {
  reason: string;
}

export interface StoreHealthOptions {
  /** One round trip to the store (`SELECT 1`). */
  ping: () => Promise<unknown>;
  /** A write that proves the store can write again after disk-full or not-writable (the ping when absent). */
  writeProbe?: () => Promise<unknown>;
  /** A cheap check run with every readiness check and probe (free disk space): a problem it finds marks the store down. */
  precheck?: () => PrecheckProblem | null;
  /** The sentence for clients and /readyz for each problem (where it is, never the driver's text). */
  describe?: (problem: ClassifiedProblem) => string;
  /** Told when the store goes down, changes problem, or comes back (for the log: once per episode). */
  onChange?: (state: StoreAvailability) => void;
  now?: () => number;
  firstRetryMs?: number;
  maxRetryMs?: number;
}

/** PostgreSQL's sentences; SQLite gives its own (the data directory is on this host). */
export function describePgProblem({ problem, what }: ClassifiedProblem): string {
  if (problem === 'unreachable') return 'the fleet store (PostgreSQL) is unreachable';
  if (problem === 'disk-full') return "the fleet store's disk (PostgreSQL) is full";
  return `the fleet store (PostgreSQL) cannot write (${what})`;
}

export function storeHealth(options: StoreHealthOptions): StoreHealth {
  const now = options.now ?? Date.now;
  const describe = options.describe ?? describePgProblem;
  const firstRetryMs = options.firstRetryMs ?? 250;
  const maxRetryMs = options.maxRetryMs ?? 5000;
  const errors = Object.fromEntries(storeProblems.map((p) => [p, 0])) as Record<StoreProblem, number>;
  let state = { available: true, since: now(), problem: null as StoreProblem | null, message: '', reason: null as string | null };
  let probe: NodeJS.Timeout | null = null;
  let retryMs = firstRetryMs;
  let stopped = false;

  const snapshot = (): StoreAvailability => ({ ...state, errors: { ...errors } });

  function up(): void {
    if (state.available) return;
    retryMs = firstRetryMs;
    state = { available: true, since: now(), problem: null, message: '', reason: null };
    options.onChange?.(snapshot());
  }

  function down(found: ClassifiedProblem, reason: string): void {
    if (!state.available && state.problem === found.problem) {
      state = { ...state, reason };
    } else {
      state = { available: false, since: now(), problem: found.problem, message: describe(found), reason };
      options.onChange?.(snapshot());
    }
    scheduleProbe();
  }

  const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

  function runProbe(): Promise<unknown> {
    if (state.problem === 'unreachable') return options.ping();
    const pre = options.precheck?.();
    if (pre) return Promise.reject(Object.assign(new Error(pre.reason), { precheck: pre }));
    return (options.writeProbe ?? options.ping)();
  }

  function scheduleProbe(): void {
    if (probe !== null || stopped) return;
    probe = setTimeout(() => {
      probe = null;
      runProbe().then(up, (error: unknown) => {
        retryMs = Math.min(retryMs * 2, maxRetryMs);
        const found = (error as { precheck?: ClassifiedProblem }).precheck ?? classifyStoreError(error);
        // A probe that fails for another reason (a bug in it, a busy database) keeps the problem as it was.
        down(found ?? { problem: state.problem ?? 'not-writable', what: 'probe failed' }, reasonOf(error));
      });
    }, retryMs);
    // The probe never keeps the process alive on its own.
    probe.unref();
  }

  function translate(error: unknown): unknown {
    const found = classifyStoreError(error);
    if (found === null) return error;
    errors[found.problem] += 1;
    down(found, reasonOf(error));
    // The driver's message (addresses, server wording) goes to the log through onChange, not to API clients.
    return new DomainError('unavailable', `${state.message}; retry later`, { since: state.since, forClients: true, storeProblem: state.problem });
  }

  async function watch<T>(work: () => Promise<T>): Promise<T> {
    try {
      const result = await work();
      // Any answer proves the store reachable; only the probe (a write) proves it can write again.
      if (state.problem === 'unreachable') up();
      return result;
    } catch (error) {
      throw translate(error);
    }
  }

  let checking: Promise<StoreAvailability> | null = null;

  return {
    watch,
    translate,
    noteError(error) {
      const found = classifyStoreError(error);
      if (found?.problem === 'unreachable') down(found, reasonOf(error));
    },
    check() {
      // /readyz is open to anyone: however many ask at once, one ping is in flight (one pool connection, not ten).
      if (checking) return checking;
      const pre = state.available ? options.precheck?.() : null;
      if (pre) down(pre, pre.reason);
      checking = (pre ? Promise.resolve() : watch(options.ping).catch(() => undefined)).then(snapshot).finally(() => {
        checking = null;
      });
      return checking;
    },
    stop() {
      stopped = true;
      if (probe !== null) clearTimeout(probe);
      probe = null;
    },
  };
}

/** Whether `error` is a store outage that the store's watcher has logged already (once for the episode): callers need not log it again. */
export function isStoreOutage(error: unknown): boolean {
  return error instanceof DomainError && typeof error.details['storeProblem'] === 'string';
}
