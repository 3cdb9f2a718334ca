// How the agent logs a failure: one line. The manager or the broker being away
// (an answer with a code, a refused connection) is an expected failure and
// gets its code and message, no stack; anything else, a bug, keeps its stack.
import { isDomainError } from '@metalfleet/domain';

export function failureFields(error: unknown): Record<string, unknown> {
  if (isDomainError(error)) return { code: error.code, reason: error.message };
  const code = (error as { code?: unknown } | null)?.code;
  if (error instanceof Error && typeof code === 'string') return { code, reason: error.message };
  return { err: error };
}
