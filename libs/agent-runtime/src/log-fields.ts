// How the agent logs a failure: one line. The manager or the broker being away
// (an answer with a code, a connection refused, reset or timed out, a name not
// found, a TLS failure) is an expected failure and gets its code and message,
// no stack; anything else, a bug (Node's ERR_INVALID_ARG_TYPE, a SQLite
// error), keeps its stack.
import { isDomainError } from '@metalfleet/domain';

const networkCode = /^(E(CONN|HOST|NET|PIPE|TIMEDOUT|NOTFOUND|AI_AGAIN|ADDRNOTAVAIL)|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED)/;

export function failureFields(error: unknown): Record<string, unknown> {
  if (isDomainError(error)) return { code: error.code, reason: error.message };
  const code = (error as { code?: unknown } | null)?.code;
  if (error instanceof Error && typeof code === 'string' && networkCode.test(code)) return { code, reason: error.message };
  return { err: error };
}
