// The manager's time (docs/time.md): one time base for every deadline, expiry
// and record, kept in <dataDir>/clock.json so that a restart carries on from it
// and host clock steps are absorbed, not followed. Saved at every sweep; a
// failing write is an episode, logged once as it starts and once as it ends: a
// restart meanwhile finds clock.json stale, and bounds its downtime by the
// store's writes instead (downtime.ts).
import { join } from 'node:path';
import type { Logger } from 'pino';
import { openManagerClock } from '@metalfleet/fleet';

export function openManagerTime(dataDir: string, logger: Logger) {
  const clock = openManagerClock(join(dataDir, 'clock.json'), (step) => logger[step.adopted ? 'error' : 'warn']({ offsetS: Math.round(step.gapMs / 1000) },
    step.adopted ? 'the host clock is more than 6 h off the manager\'s time: adopted it at once; deadlines in flight may fire'
      : 'the host clock stepped: the manager\'s time does not jump with it, it catches up at 10 % of the time that passes'));
  if (clock.resumed) logger.info({ offsetS: Math.round(clock.offsetMs() / 1000) }, 'the manager\'s time carries on from clock.json (host clock minus manager time: offsetS)');
  const save = () => {
    const failingSince = clock.saveFailingSince();
    try {
      clock.save();
      if (failingSince) logger.info({ failedForS: Math.round((clock.now().getTime() - failingSince.getTime()) / 1000) }, 'clock.json written again');
    } catch (error) {
      if (!failingSince) logger.error({ err: error }, 'could not write clock.json (the manager\'s time, for a restart); trying again every sweep');
    }
  };
  return { clock, save };
}
