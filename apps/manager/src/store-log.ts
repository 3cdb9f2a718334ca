// The log lines of a store outage: one when it starts (what, where, how much
// space is left), one when it is over. Requests that fail meanwhile are not
// logged one by one (they answer 503 with the same reason).
import type { Logger } from 'pino';
import { freeDiskBytes, type StoreAvailability } from '@metalfleet/store';

export function logStoreAvailability(logger: Logger, where: { dataDir: string; postgres: boolean }): (state: StoreAvailability) => void {
  const store = where.postgres ? 'fleet store (PostgreSQL)' : 'fleet store';
  return (state) => {
    if (state.available) {
      logger.warn({ dataDir: where.dataDir, freeBytes: freeDiskBytes(where.dataDir) }, `${store} can write again; ready`);
      return;
    }
    const context = { problem: state.problem, reason: state.reason, dataDir: where.dataDir, freeBytes: freeDiskBytes(where.dataDir), errors: state.errors };
    const until = 'writes answer 503 and /readyz is not ready until';
    if (state.problem === 'unreachable') logger.error(context, `${store} unreachable: ${until} it answers again`);
    else if (state.problem === 'disk-full' && !where.postgres) logger.error(context, `${state.message} (${context.freeBytes ?? '?'} bytes free): ${until} space is freed`);
    else logger.error(context, `${state.message}: ${until} it can write again`);
  };
}
