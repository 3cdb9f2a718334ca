// What a failed store call says about the store, as opposed to the statement:
// it cannot be reached, its disk is full, or it cannot write for another reason
// (I/O error, out of memory, a read-only database). Each is an outage the
// manager rides out (503 with the reason, /readyz not ready), never a 500.
export type StoreProblem = 'unreachable' | 'disk-full' | 'not-writable';

export const storeProblems: readonly StoreProblem[] = ['unreachable', 'disk-full', 'not-writable'];

export interface ClassifiedProblem {
  problem: StoreProblem;
  /** A few words for clients and the log, without addresses or driver text (for not-writable: what failed). */
  what: string;
}

// SQLSTATE class 08 (connection exception), the server shutting down or starting up, and a session the server ended
// because its transaction sat idle too long (25P03: the manager's event loop stalled mid-transaction; tried again).
const connectionStates = new Set(['57P01', '57P02', '57P03', '53300', '25P03']);
const connectionErrnos = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
// What `pg` throws itself when a socket goes away; it carries no code.
const connectionMessages = /connection terminated|connection error|not queryable|timeout exceeded when trying to connect|server closed the connection/i;

/** PostgreSQL states that mean the server cannot write now (the statement itself is fine). */
const pgWriteStates: Record<string, ClassifiedProblem> = {
  53100: { problem: 'disk-full', what: 'disk full' },
  53200: { problem: 'not-writable', what: 'out of memory' },
  53000: { problem: 'not-writable', what: 'insufficient resources' },
  25006: { problem: 'not-writable', what: 'read-only database' },
  58030: { problem: 'not-writable', what: 'I/O error' },
};

/** SQLite primary result codes (node:sqlite puts the extended code in `errcode`; its low byte is the primary one). */
const sqliteWriteCodes: Record<number, ClassifiedProblem> = {
  13: { problem: 'disk-full', what: 'disk full' }, // SQLITE_FULL
  10: { problem: 'not-writable', what: 'I/O error' }, // SQLITE_IOERR (ENOSPC on some file systems, EIO)
  8: { problem: 'not-writable', what: 'read-only database' }, // SQLITE_READONLY
  7: { problem: 'not-writable', what: 'out of memory' }, // SQLITE_NOMEM
};

/** Whether `error` means the database cannot be reached (as opposed to a bad statement). */
export function isConnectionError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || connectionStates.has(code) || connectionErrnos.has(code))) return true;
  return error instanceof Error && connectionMessages.test(error.message);
}

/** The store problem `error` shows, or null for an error of the statement (a constraint, a syntax error, a domain error). */
export function classifyStoreError(error: unknown): ClassifiedProblem | null {
  if (error === null || typeof error !== 'object') return null;
  if (isConnectionError(error)) return { problem: 'unreachable', what: 'unreachable' };
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  if (typeof code === 'string' && code in pgWriteStates) return pgWriteStates[code] ?? null;
  if (code === 'ERR_SQLITE_ERROR' && typeof errcode === 'number') return sqliteWriteCodes[errcode % 256] ?? null;
  return null;
}
