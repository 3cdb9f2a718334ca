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

/**
 * Delay before retry number `attempt` (0-based) after a refusal or a timeout, with full jitter:
 * anywhere in [0, ceiling], so that a fleet refused together comes back spread over the whole
 * window instead of in waves. `retryAfterMs`, the server's hint, is honoured as a floor (up to the
 * cap), jittered up to twice itself so that everyone told the same hint does not return at once.
 * Never above `policy.maxMs`.
 */
export function retryDelay(attempt: number, policy: BackoffPolicy, random01: number, retryAfterMs?: number | null): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  const jittered = random01 * ceiling;
  if (retryAfterMs === undefined || retryAfterMs === null || !(retryAfterMs > 0)) return Math.round(jittered);
  const hint = Math.min(retryAfterMs, policy.maxMs);
  return Math.round(Math.min(policy.maxMs, Math.max(jittered, hint + random01 * hint)));
}
