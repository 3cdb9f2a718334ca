// Composing the fleet's event journal: every event this replica emits goes
// into the store, and what every replica emitted is read back from it, for
// the event stream and as the evidence of reimages (a boot script served or an
// install registered on another replica).
import type { Logger } from 'pino';
import { createJournalFeed, startEventJournal, type FleetEvents, type ReimageDeps } from '@metalfleet/fleet';
import type { FleetStore } from '@metalfleet/store';

export function startEventJournalOf(deps: { store: FleetStore; events: FleetEvents; logger: Logger; level: (error: unknown) => 'debug' | 'error' }) {
  const { store, logger, level } = deps;
  const journal = startEventJournal({
    store, events: deps.events,
    onError: (error) => logger[level(error)]({ err: error }, 'could not store fleet events in the event journal; they are kept and retried'),
    onDropped: (total) => logger.error({ droppedInAll: total }, 'the event journal could not be written for too long: the oldest waiting events were dropped (event streams will not show them)'),
  });
  const feed = createJournalFeed({ store, onError: (error) => logger[level(error)]({ err: error }, 'reading the event journal failed; tried again') });

  /** Every replica's events, from now on, as a bus; caught up once what was stored before the call was handed over. */
  const observations: NonNullable<ReimageDeps['observations']> = {
    on: (listener) => {
      let off: (() => void) | null = null;
      let stopped = false;
      void feed.subscribe(null, (_seq, event) => listener(event, { journaled: true })).then((unsubscribe) => (stopped ? unsubscribe() : (off = unsubscribe)));
      return () => {
        stopped = true;
        off?.();
      };
    },
    caughtUp: async () => {
      await journal.flushed();
      await feed.caughtUp();
    },
  };
  return { journal, feed, observations };
}
