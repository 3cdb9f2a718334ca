// The one table that maps domain error codes to gRPC statuses, and back.
import { status, Metadata, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { DomainError, isDomainError, type ErrorCode } from '@metalfleet/domain';

// A Map, not an object literal: a code read off the wire is looked up here, and
// an object would answer for inherited names such as 'constructor'.
const codeToStatus: ReadonlyMap<string, status> = new Map<ErrorCode, status>([
  ['invalid-argument', status.INVALID_ARGUMENT],
  ['unauthenticated', status.UNAUTHENTICATED],
  ['permission-denied', status.PERMISSION_DENIED],
  ['not-found', status.NOT_FOUND],
  ['conflict', status.ALREADY_EXISTS],
  ['pending-approval', status.FAILED_PRECONDITION],
  ['unavailable', status.UNAVAILABLE],
  ['internal', status.INTERNAL],
]);

function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && codeToStatus.has(value);
}

const statusToCode = new Map<status, ErrorCode>([
  [status.INVALID_ARGUMENT, 'invalid-argument'],
  [status.UNAUTHENTICATED, 'unauthenticated'],
  [status.PERMISSION_DENIED, 'permission-denied'],
  [status.NOT_FOUND, 'not-found'],
  [status.ALREADY_EXISTS, 'conflict'],
  [status.FAILED_PRECONDITION, 'pending-approval'],
  [status.UNAVAILABLE, 'unavailable'],
  [status.DEADLINE_EXCEEDED, 'unavailable'],
  [status.RESOURCE_EXHAUSTED, 'invalid-argument'],
]);

/** Metadata key carrying the stable error code, so clients never parse messages. */
export const errorCodeKey = 'x-metalfleet-error-code';

/**
 * Trailing metadata key with how long (ms) a client should wait before it asks again: set when a
 * busy manager sheds a call (a domain error whose details carry `retryAfterMs`).
 */
export const retryAfterKey = 'retry-after-ms';

/** A domain error becomes its status; anything else is INTERNAL without internals. */
export function toGrpcStatus(error: unknown): Partial<StatusObject> {
  const metadata = new Metadata();
  const mapped = isDomainError(error) && error.code !== 'internal' ? codeToStatus.get(error.code) : undefined;
  if (isDomainError(error) && mapped !== undefined) {
    metadata.set(errorCodeKey, error.code);
    const retryAfterMs = error.details['retryAfterMs'];
    if (typeof retryAfterMs === 'number' && retryAfterMs > 0) metadata.set(retryAfterKey, String(Math.round(retryAfterMs)));
    return { code: mapped, details: error.message, metadata };
  }
  metadata.set(errorCodeKey, 'internal');
  return { code: status.INTERNAL, details: 'internal error', metadata };
}

/** The server's retry-after hint on a failed call (ms), or null. */
export function retryAfterMsOf(error: unknown): number | null {
  const value = isDomainError(error) ? error.details['retryAfterMs'] : undefined;
  return typeof value === 'number' && value > 0 ? value : null;
}

/** A failed call, as the client sees it: the gRPC status plus the domain code (and its retry-after hint in details.retryAfterMs). */
export class RpcError extends DomainError {
  readonly grpcStatus: status;

  constructor(error: ServiceError) {
    const sent = error.metadata?.get(errorCodeKey)[0];
    const code = isErrorCode(sent) ? sent : (statusToCode.get(error.code) ?? 'internal');
    const retryAfterMs = Number(error.metadata?.get(retryAfterKey)[0] ?? Number.NaN);
    super(code, error.details || error.message, Number.isFinite(retryAfterMs) && retryAfterMs > 0 ? { retryAfterMs } : {});
    this.name = 'RpcError';
    this.grpcStatus = error.code;
  }
}
