// Errors that cross layers carry a stable code; callers match on the code,
// never on the message. One table at each edge (HTTP, gRPC) maps codes to statuses.

export type ErrorCode =
  | 'invalid-argument'
  | 'unauthenticated'
  | 'permission-denied'
  | 'not-found'
  | 'conflict'
  /** The request is recorded and waits for an operator (a re-enrolment); the same request succeeds once approved. */
  | 'pending-approval'
  | 'unavailable'
  | 'internal';

const retryableCodes: ReadonlySet<ErrorCode> = new Set(['unavailable']);

export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.retryable = retryableCodes.has(code);
    this.details = details;
  }
}

export function isDomainError(value: unknown): value is DomainError {
  return value instanceof DomainError;
}
