// The manager's clock as the agent can know it without trusting its own: the
// node's wall clock may be far off (the tenant is root on the node and sets
// it). Each answer from the manager carries the manager's time; the agent keeps
// it against its monotonic clock, which no one can step, and estimates the
// manager's time now from the elapsed monotonic time. A command's deadline is
// in the manager's clock and is judged only against this estimate.

export class ManagerClock {
  private reference: { managerMs: number; monotonicMs: number } | null = null;
  private readonly monotonicMs: () => number;

  constructor(monotonicMs: () => number = () => performance.now()) {
    this.monotonicMs = monotonicMs;
  }

  /** When a request started (monotonic), to pass to observe() with its answer. */
  mark(): number {
    return this.monotonicMs();
  }

  /**
   * The manager's time in an answer to a request sent at `sentAtMonotonicMs`. The answer was stamped
   * somewhere between sending and receiving: counting from the sending errs late, so a deadline is
   * taken for passed early rather than late.
   */
  observe(managerTime: Date, sentAtMonotonicMs: number): void {
    this.reference = { managerMs: managerTime.getTime(), monotonicMs: sentAtMonotonicMs };
  }

  /** The manager's time now, at the latest; null before the manager has said what time it is. */
  now(): Date | null {
    if (!this.reference) return null;
    return new Date(this.reference.managerMs + (this.monotonicMs() - this.reference.monotonicMs));
  }

  /** Whether `deadline` (the manager's clock) has passed; false while the manager's time is not known. */
  passed(deadline: Date): boolean {
    const now = this.now();
    return now !== null && now.getTime() >= deadline.getTime();
  }
}
