// Waiting at start for a database that is not up yet (PostgreSQL started after
// the manager, or restarting): connection errors are retried with backoff, each
// attempt told to the caller (one log line, with the reason), until a deadline;
// then one clear error, for one line on stderr and exit status 1. Any other error
// (a bad password, a missing database) is not waited out.
import { isConnectionError } from './store-problems.ts';

export class StoreConnectError extends Error {
  readonly code = 'store-unreachable';

  constructor(message: string) {
    super(message);
    this.name = 'StoreConnectError';
  }
}

export interface ConnectAttempt {
  attempt: number;
  /** The driver's message for this failure. */
  reason: string;
  retryInMs: number;
  waitedMs: number;
}

export interface ConnectRetry {
  /** Time on `now`'s scale (epoch ms by default) after which the start gives up (one deadline for every step of the start that connects). */
  deadline: number;
  /** Told of each failed attempt that will be retried. */
  onRetry: (attempt: ConnectAttempt) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  firstRetryMs?: number;
  maxRetryMs?: number;
}

/** Runs `work` until it does not fail with a connection error, or the deadline passes (StoreConnectError naming `what`). */
export async function retryWhileUnreachable<T>(what: string, work: () => Promise<T>, retry: ConnectRetry): Promise<T> {
  const now = retry.now ?? Date.now;
  const sleep = retry.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const started = now();
  let waitMs = retry.firstRetryMs ?? 250;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      const left = retry.deadline - now();
      if (left <= 0) {
        throw new StoreConnectError(`${what} did not answer within ${Math.round((now() - started) / 1000)} s (${attempt} attempts, last: ${reason}); start it, or check --postgres-url (--store-connect-timeout-s to wait longer)`);
      }
      const retryInMs = Math.min(waitMs, left);
      retry.onRetry({ attempt, reason, retryInMs, waitedMs: now() - started });
      await sleep(retryInMs);
      waitMs = Math.min(waitMs * 2, retry.maxRetryMs ?? 5000);
    }
  }
}
