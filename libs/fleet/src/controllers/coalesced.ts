// Work that must never run twice at once, and where asking during a run means
// "once more after this one" (not once per ask): reconciling switch ports,
// evaluating alert rules.
export interface Coalesced {
  /** Runs now, or once more after the run in progress; resolves when that run is done. */
  run(): Promise<void>;
  /** Resolves once no run is in progress (never starts one). */
  settled(): Promise<void>;
}

export function coalesced(work: () => Promise<void>): Coalesced {
  let running: Promise<void> | null = null;
  let again = false;
  return {
    run() {
      if (running) {
        again = true;
        return running;
      }
      running = (async () => {
        try {
          do {
            again = false;
            await work();
          } while (again);
        } finally {
          running = null;
        }
      })();
      return running;
    },
    settled: () => running ?? Promise.resolve(),
  };
}
