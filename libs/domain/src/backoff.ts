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
