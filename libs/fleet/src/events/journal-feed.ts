// Reading the event journal for the event streams of this replica. Streams
// that are caught up share one reader: each new page is read once, decoded
// once, and handed to them all. A stream that starts behind (a client back
// with Last-Event-ID) reads its own pages until it has caught up, then joins
// them. The reader is woken when any replica appends (watchEvents), and looks
// on its own every `pollMs` too, for a wake-up lost with a broken connection.
import type { EventJournalStore } from '@metalfleet/store';
import { coalesced } from '../controllers/coalesced.ts';
import { decodeEvent } from './event-journal.ts';
import type { FleetEvent } from './fleet-events.ts';

/** A listener that returns a promise while catching up is given the next page only once it settles (backpressure). */
export type FeedListener = (seq: number, event: FleetEvent) => unknown;

interface Subscriber {
  /** The last seq this subscriber got (or was started after). */
  cursor: number;
  deliver: FeedListener;
  closed: boolean;
}

export interface JournalFeedDeps {
  store: Pick<EventJournalStore, 'eventsAfter' | 'lastEventSeq' | 'watchEvents'>;
  onError: (error: unknown) => void;
  pollMs?: number;
  pageSize?: number;
}

export function createJournalFeed(deps: JournalFeedDeps) {
  const pollMs = deps.pollMs ?? 1000;
  const pageSize = deps.pageSize ?? 500;
  const live = new Set<Subscriber>();
  const all = new Set<Subscriber>();
  /** Where the shared reader is; null while no subscriber is caught up. */
  let head: number | null = null;
  let unwatch: (() => void) | null = null;
  let poll: NodeJS.Timeout | undefined;

  const hand = (subscriber: Subscriber, seq: number, event: FleetEvent): unknown => {
    // A stream that caught up by its own reads may be ahead of the shared reader.
    if (subscriber.closed || seq <= subscriber.cursor) return;
    subscriber.cursor = seq;
    return subscriber.deliver(seq, event);
  };

  const reader = coalesced(async () => {
    while (head !== null && live.size > 0) {
      const page = await deps.store.eventsAfter(head, pageSize);
      for (const row of page) {
        const event = decodeEvent(row);
        for (const subscriber of [...live]) void hand(subscriber, row.seq, event);
        if (head !== null) head = row.seq;
      }
      if (page.length < pageSize) return;
    }
  });
  const wake = () => void reader.run().catch(deps.onError);

  function hold(): void {
    unwatch ??= deps.store.watchEvents(wake);
    poll ??= setInterval(wake, pollMs);
  }

  function release(subscriber: Subscriber): void {
    subscriber.closed = true;
    live.delete(subscriber);
    all.delete(subscriber);
    if (live.size === 0) head = null;
    if (all.size > 0) return;
    unwatch?.();
    unwatch = null;
    clearInterval(poll);
    poll = undefined;
  }

  /** Reads on its own until it is where the shared reader is (or ahead), then joins it. */
  async function catchUp(subscriber: Subscriber): Promise<void> {
    for (;;) {
      if (subscriber.closed) return;
      // Nothing awaited between this test and the join: the shared reader cannot move in between.
      if (head !== null && subscriber.cursor >= head) {
        live.add(subscriber);
        return;
      }
      const page = await deps.store.eventsAfter(subscriber.cursor, pageSize);
      // Its own pages wait for it: a slow subscriber (a tenant filter) is not handed the whole journal at once.
      await Promise.all(page.map((row) => hand(subscriber, row.seq, decodeEvent(row))));
      // A full page: more to read on its own, at its own pace.
      if (page.length === pageSize) continue;
      if (head === null) {
        // No one is caught up: this subscriber starts the shared reader where it stands.
        head = subscriber.cursor;
        live.add(subscriber);
        return;
      }
      // Behind the shared reader with nothing left to read: the entries between were purged meanwhile.
      if (page.length === 0 && subscriber.cursor < head) subscriber.cursor = head;
    }
  }

  return {
    /**
     * Hands `deliver` every event after `after` (null: from now on), in journal order, until the returned
     * function is called. A failed read is reported and tried again at the next wake-up.
     */
    async subscribe(after: number | null, deliver: FeedListener): Promise<() => void> {
      const subscriber: Subscriber = { cursor: after ?? (await deps.store.lastEventSeq()), deliver, closed: false };
      all.add(subscriber);
      hold();
      const tryCatchUp = (): void => void catchUp(subscriber).then(wake, (error: unknown) => {
        deps.onError(error);
        if (!subscriber.closed) setTimeout(tryCatchUp, pollMs);
      });
      tryCatchUp();
      return () => release(subscriber);
    },
    /** Resolves once the caught-up subscribers have been handed every event stored before the call. */
    async caughtUp(): Promise<void> {
      const target = await deps.store.lastEventSeq();
      while (head !== null && head < target && live.size > 0) await reader.run();
    },
    /** Subscribers now, caught up or not. */
    size: () => all.size,
  };
}

export type JournalFeed = ReturnType<typeof createJournalFeed>;
