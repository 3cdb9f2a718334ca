// What the agent says while it cannot reach the manager or its broker. An
// agent that starts before the manager (a rack powered on at once, npm start)
// fails its first tries as a matter of course: those are quiet. A failure
// that lasts is said once, and again only when it changes or after a while;
// the simulator's nodes share one process and one log, so a reason one node
// said is not said again by the next thousand. Back to normal, it says how
// long it took.

/** Failures in the first this many ms are quiet (debug): the manager may still be starting. */
export const quietFailureMs = 10_000;
/** The same failure is said again after this long (per process). */
export const repeatFailureMs = 300_000;
/** Failures remembered per process; more distinct ones than this start afresh (each said once more). */
const rememberedFailures = 1000;

// Failure key → when it was last said, shared by every node of this process.
const saidInProcess = new Map<string, number>();

export interface RetryLog {
  /** Whether this failure is to be said now (warn) or kept quiet (debug). `urgent`: an operator must act; never quiet. */
  failed(key: string, urgent?: boolean): 'warn' | 'debug';
  /** The outage is over: how long it lasted, when something of it was said (null: nothing was, nothing to say). */
  recovered(): { afterMs: number; failures: number } | null;
}

export function createRetryLog(now: () => number = Date.now, said: Map<string, number> = saidInProcess): RetryLog {
  let failingSince: number | null = null;
  let failures = 0;
  // What this node said in this outage: forgotten by the process when it ends, so the next outage is said too.
  const spoken = new Set<string>();
  return {
    failed(key, urgent = false) {
      const at = now();
      failingSince ??= at;
      failures += 1;
      if (!urgent && at - failingSince < quietFailureMs) return 'debug';
      const last = said.get(key);
      if (last !== undefined && at - last < repeatFailureMs) return 'debug';
      if (said.size >= rememberedFailures) said.clear();
      said.set(key, at);
      spoken.add(key);
      return 'warn';
    },
    recovered() {
      const outage = failingSince === null || spoken.size === 0 ? null : { afterMs: now() - failingSince, failures };
      for (const key of spoken) said.delete(key);
      spoken.clear();
      failingSince = null;
      failures = 0;
      return outage;
    },
  };
}
