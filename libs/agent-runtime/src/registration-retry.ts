// What a failed registration try means for the next: how long to wait, and
// whether to dial the manager again.
import { status } from '@grpc/grpc-js';
import { isDomainError, retryDelay, type BackoffPolicy } from '@metalfleet/domain';
import { retryAfterMsOf, RpcError } from '@metalfleet/transport';

/**
 * Longest wait between tries that the manager did not answer in time. The agent's own backoff caps
 * at 30 s: in a 10,000-node storm on a starved manager (everything on one core) every agent asked
 * again within 45 s of a 15 s try, the requests waited in the manager longer than their deadlines,
 * every answer came too late, and none of 10,000 registered in 120 s. Unanswered tries back off
 * further, so an overloaded manager hears less from each agent until it answers again (then its
 * retry-after hints pace the fleet).
 */
export const unansweredBackoffMaxMs = 300_000;

/** Tries in a row without an answer after which the connection is built again. */
export const unansweredBeforeReconnect = 2;

/** Failed tries so far: all of them, and those in a row the manager did not answer before their deadline. */
export interface FailedTries {
  attempt: number;
  unanswered: number;
}

export interface NextTry {
  delayMs: number;
  unanswered: number;
  /** Whether to build the connection again (the manager may have a new certificate or address). */
  reconnect: boolean;
  /** The manager's retry-after hint, when it shed the try. */
  retryAfterMs: number | null;
}

export function afterFailedTry(error: unknown, tries: FailedTries, backoff: BackoffPolicy, random01: number): NextTry {
  // A busy manager that shed the call says when to come back; the connection to it is fine.
  const retryAfterMs = retryAfterMsOf(error);
  const late = error instanceof RpcError && error.grpcStatus === status.DEADLINE_EXCEEDED;
  const unanswered = late ? tries.unanswered + 1 : 0;
  if (late) {
    // The connection is kept after one try without an answer: the try may still be waiting its turn at the manager.
    // After a second in a row it is built again: a manager host gone without a reset leaves a dead connection that
    // would hold every later try for its whole deadline (hostile review).
    const slower = { initialMs: backoff.initialMs, maxMs: Math.max(backoff.maxMs, unansweredBackoffMaxMs) };
    return { delayMs: retryDelay(unanswered - 1, slower, random01), unanswered, reconnect: unanswered % unansweredBeforeReconnect === 0, retryAfterMs };
  }
  const reconnect = isDomainError(error) && error.code === 'unavailable' && retryAfterMs === null;
  return { delayMs: retryDelay(tries.attempt, backoff, random01, retryAfterMs), unanswered, reconnect, retryAfterMs };
}
