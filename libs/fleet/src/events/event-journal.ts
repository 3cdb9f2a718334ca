// Every fleet event this replica emits goes into the store's event journal,
// where the event stream of every replica reads it (journal-feed.ts). Tenant
// changes, allocations, lifecycle transitions and new reimage operations write
// their events in their own transaction (emitted as `journaled`): the journal
// shows them in the order they committed, across replicas, and never one
// without the other. The rest (registrations, presence, health reports,
// commands, operation progress) are appended here in batches, in the order they
// were emitted, just after their change: one transaction per batch, not per
// event (a registration storm emits thousands a second). These can come after
// a journaled event they caused (a node's `inspect` before its
// `node-registered`), and a manager killed in between loses what it had not
// appended yet.
// While the store cannot write (an outage, a full disk) they wait here and are
// retried; past `maxBuffered` the oldest are dropped and counted, so an outage
// never grows the manager without bound.
import type { EventJournalStore, JournalEntry, JournaledEvent } from '@metalfleet/store';
import { coalesced } from '../controllers/coalesced.ts';
import type { FleetEvent, FleetEvents } from './fleet-events.ts';

export function encodeEvent(event: FleetEvent): JournalEntry {
  return { at: event.at, type: event.type, body: JSON.stringify(event) };
}

/** The event as it was emitted: every `at` of a FleetEvent is a Date, and comes back as one. */
export function decodeEvent(row: JournaledEvent): FleetEvent {
  return JSON.parse(row.body, (key, value: unknown) => (key === 'at' && typeof value === 'string' ? new Date(value) : value)) as FleetEvent;
}

export interface EventJournalDeps {
  store: Pick<EventJournalStore, 'appendEvents'>;
  events: FleetEvents;
  /** A batch could not be stored (it is retried); called once per failing episode. */
  onError: (error: unknown) => void;
  /** Told when events were dropped because the store stayed unwritable: how many in all so far. */
  onDropped?: (total: number) => void;
  maxBuffered?: number;
  retryMs?: number;
}

export function startEventJournal(deps: EventJournalDeps) {
  const maxBuffered = deps.maxBuffered ?? 100_000;
  const retryMs = deps.retryMs ?? 1000;
  let pending: JournalEntry[] = [];
  let dropped = 0;
  let failing = false;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;

  const writes = coalesced(async () => {
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      try {
        await deps.store.appendEvents(batch);
        failing = false;
      } catch (error) {
        // Back at the front, in order; what came meanwhile stays behind it.
        pending = [...batch, ...pending];
        const over = pending.length - maxBuffered;
        if (over > 0) {
          pending = pending.slice(over);
          dropped += over;
          deps.onDropped?.(dropped);
        }
        if (!failing) deps.onError(error);
        failing = true;
        if (!stopped) retry ??= setTimeout(() => {
          retry = undefined;
          void writes.run();
        }, retryMs);
        return;
      }
    }
  });

  const off = deps.events.on((event, { journaled }) => {
    if (journaled) return;
    pending.push(encodeEvent(event));
    // After the emitting code's synchronous work: the events it emits together are one batch.
    if (pending.length === 1 && !failing) setImmediate(() => void writes.run());
  });

  return {
    /** Resolves once what was emitted so far is stored, or its write failed (it is retried). */
    flushed: () => writes.run(),
    dropped: () => dropped,
    pending: () => pending.length,
    /** Stops listening and makes a last try to store what waits. */
    async stop(): Promise<void> {
      off();
      stopped = true;
      clearTimeout(retry);
      await writes.run();
    },
  };
}

export type EventJournal = ReturnType<typeof startEventJournal>;
