// Retry delays with exponential growth and full jitter, so a rack of nodes
// powering on together does not hammer the manager in lockstep.

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/** Delay before retry number `attempt` (0-based); `random01` is a number in [0, 1). */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random01: number): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(policy.initialMs / 2 + random01 * (ceiling - policy.initialMs / 2));
}

/** The longest a server's retry-after hint is followed (a longer one is held to this). */
export const maxRetryAfterHintMs = 600_000;

/**
 * Delay before retry number `attempt` (0-based) after a refusal or a timeout, with full jitter:
 * anywhere in [0, ceiling], so that a fleet refused together comes back spread over the whole
 * window instead of in waves; never above `policy.maxMs`.
 *
 * `retryAfterMs`, the server's hint, is honoured as a floor, also beyond `policy.maxMs` (up to
 * `maxRetryAfterHintMs`): a busy manager spreads a storm over minutes by telling each refused agent
 * a later time, and an agent that capped the hint at its own 30 s came back with everyone else,
 * each retry costing the starved host more work. The hint is jittered by up to itself (at most by
 * `policy.maxMs`), so that agents told the same hint do not return at once.
 */
export function retryDelay(attempt: number, policy: BackoffPolicy, random01: number, retryAfterMs?: number | null): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  const jittered = random01 * ceiling;
  if (retryAfterMs === undefined || retryAfterMs === null || !(retryAfterMs > 0)) return Math.round(jittered);
  const hint = Math.min(retryAfterMs, maxRetryAfterHintMs);
  return Math.round(Math.max(jittered, hint + random01 * Math.min(hint, policy.maxMs)));
}
