// What the control-loops replica deletes now and then: expired boot tokens,
// events past --event-retention-h, node certificates expired a day ago.
import type { Logger } from 'pino';
import type { BootTokens } from '@metalfleet/fleet';
import type { FleetStore } from '@metalfleet/store';
import type { ManagerConfig } from './config.ts';

export function startPurges(config: ManagerConfig, deps: {
  store: FleetStore; bootTokens: Pick<BootTokens, 'purgeExpired'>; now: () => Date; runsHere: () => boolean; logger: Logger; level: (error: unknown) => 'debug' | 'error';
}): { stop: () => void } {
  const { store, logger, level } = deps;
  const failed = (what: string) => (error: unknown) => logger[level(error)]({ err: error }, `${what} failed`);
  const timer = setInterval(() => {
    if (!deps.runsHere()) return;
    deps.bootTokens.purgeExpired().then((purged) => {
      if (purged > 0) logger.info({ purged }, 'expired boot tokens deleted');
    }).catch(failed('boot token purge'));
    store.purgeEventsBefore(new Date(deps.now().getTime() - config.eventRetentionH * 3_600_000)).catch(failed('event journal purge'));
    // Expired a day ago: no broker accepts them, and the revocation list need not name them.
    store.purgeNodeCertificates(new Date(deps.now().getTime() - 86_400_000)).catch(failed('node certificate purge'));
  }, config.bootTokenPurgeIntervalS * 1000);
  return { stop: () => clearInterval(timer) };
}
