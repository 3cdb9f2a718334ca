// Whether the store answers: an outage of the database is a state the manager
// rides out, not a crash. Connection errors become `unavailable` (retryable, 503
// at the HTTP edge); while the store is down a probe retries with backoff, so
// /readyz turns ready again without waiting for traffic.
import { DomainError } from '@metalfleet/domain';

export interface StoreAvailability {
  available: boolean;
  /** Epoch ms since when the store has been in this state. */
  since: number;
  /** Why the store is unavailable (the driver's message); null while available. */
  reason: string | null;
}

export interface StoreHealth {
  /** Runs `work`; a connection error marks the store unavailable and is rethrown as `unavailable`. */
  watch<T>(work: () => Promise<T>): Promise<T>;
  /** A connection-level error seen outside a call (an idle connection the server closed). */
  noteError(error: unknown): void;
  /** Probes the store now and returns its state. */
  check(): Promise<StoreAvailability>;
  /** Stops the background probe (the store is closing). */
  stop(): void;
}

// SQLSTATE class 08 (connection exception) and the server shutting down or starting up.
const connectionStates = new Set(['57P01', '57P02', '57P03', '53300']);
const connectionErrnos = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
// What `pg` throws itself when a socket goes away; it carries no code.
const connectionMessages = /connection terminated|connection error|not queryable|timeout exceeded when trying to connect|server closed the connection/i;

/** Whether `error` means the database cannot be reached (as opposed to a bad statement). */
export function isConnectionError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || connectionStates.has(code) || connectionErrnos.has(code))) return true;
  return error instanceof Error && connectionMessages.test(error.message);
}

export interface StoreHealthOptions {
  /** One round trip to the store (`SELECT 1`). */
  ping: () => Promise<unknown>;
  /** Told when the store goes down or comes back (for the log). */
  onChange?: (state: StoreAvailability) => void;
  now?: () => number;
  firstRetryMs?: number;
  maxRetryMs?: number;
}

export function storeHealth(options: StoreHealthOptions): StoreHealth {
  const now = options.now ?? Date.now;
  const firstRetryMs = options.firstRetryMs ?? 250;
  const maxRetryMs = options.maxRetryMs ?? 5000;
  let state: StoreAvailability = { available: true, since: now(), reason: null };
  let probe: NodeJS.Timeout | null = null;
  let retryMs = firstRetryMs;
  let stopped = false;

  function set(available: boolean, reason: string | null): void {
    if (state.available === available) {
      if (!available) state = { ...state, reason };
      return;
    }
    state = { available, since: now(), reason };
    options.onChange?.(state);
  }

  function down(error: unknown): void {
    set(false, error instanceof Error ? error.message : String(error));
    scheduleProbe();
  }

  function scheduleProbe(): void {
    if (probe !== null || stopped) return;
    probe = setTimeout(() => {
      probe = null;
      options.ping().then(() => {
        retryMs = firstRetryMs;
        set(true, null);
      }, (error: unknown) => {
        retryMs = Math.min(retryMs * 2, maxRetryMs);
        down(error);
      });
    }, retryMs);
    // The probe never keeps the process alive on its own.
    probe.unref();
  }

  let checking: Promise<StoreAvailability> | null = null;

  async function watch<T>(work: () => Promise<T>): Promise<T> {
    try {
      const result = await work();
      set(true, null);
      return result;
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      down(error);
      // The driver's message (addresses, server wording) goes to the log through onChange, not to API clients.
      throw new DomainError('unavailable', 'the fleet store (PostgreSQL) is unreachable; retry later', { since: state.since, forClients: true });
    }
  }

  return {
    watch,
    noteError(error) {
      if (isConnectionError(error)) down(error);
    },
    check() {
      // /readyz is open to anyone: however many ask at once, one ping is in flight (one pool connection, not ten).
      checking ??= watch(options.ping).catch(() => undefined).then(() => state).finally(() => {
        checking = null;
      });
      return checking;
    },
    stop() {
      stopped = true;
      if (probe !== null) clearTimeout(probe);
      probe = null;
    },
  };
}
