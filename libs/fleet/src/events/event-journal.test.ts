// The journal writer and the feed the event streams read, on a real SQLite
// store: in order, nothing lost across a store outage (up to the bound),
// nothing twice, and a late subscriber catching up from where it left off.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteFleetStore, type FleetStore, type JournalEntry } from '@metalfleet/store';
import { startEventJournal, type EventJournal } from './event-journal.ts';
import { FleetEvents, type FleetEvent } from './fleet-events.ts';
import { createJournalFeed } from './journal-feed.ts';

let store: FleetStore;
let events: FleetEvents;
let journal: EventJournal;
const errors: unknown[] = [];
const at = new Date('2026-11-28T03:00:00.000Z');
const registered = (n: number): FleetEvent => ({ type: 'node-registered', nodeId: `node-${n}`, returning: false, via: 'grpc', at: new Date(at.getTime() + n) });
const nodeIds = (list: Array<{ event: FleetEvent }>) => list.map(({ event }) => (event as { nodeId: string }).nodeId);

beforeEach(() => {
  store = openSqliteFleetStore({ path: ':memory:' });
  events = new FleetEvents();
  errors.length = 0;
  journal = startEventJournal({ store, events, onError: (error) => errors.push(error) });
});
afterEach(async () => {
  await journal.stop();
  await store.close();
});

describe('event journal', () => {
  it('stores emitted events in their order, and reads them back as they were (dates too)', async () => {
    for (let n = 1; n <= 3; n++) events.emit(registered(n));
    await journal.flushed();
    const rows = await store.eventsAfter(0, 10);
    expect(rows.map((r) => r.type)).toEqual(['node-registered', 'node-registered', 'node-registered']);
    const feed = createJournalFeed({ store, onError: (error) => errors.push(error) });
    const got: Array<{ seq: number; event: FleetEvent }> = [];
    const stop = await feed.subscribe(0, (seq, event) => got.push({ seq, event }));
    await expect.poll(() => got.length).toBe(3);
    expect(got[0]?.event).toEqual(registered(1));
    expect(got[0]?.event.at).toBeInstanceOf(Date);
    stop();
  });

  it('keeps events while the store cannot write and stores them once it can; past the bound the oldest are dropped and counted', async () => {
    await journal.stop();
    let down = true;
    const outage = { appendEvents: (entries: readonly JournalEntry[]) => (down ? Promise.reject(new Error('disk full (test outage)')) : store.appendEvents(entries)) };
    let droppedTotal = 0;
    journal = startEventJournal({ store: outage, events, onError: (error) => errors.push(error), onDropped: (total) => (droppedTotal = total), maxBuffered: 5, retryMs: 20 });
    for (let n = 1; n <= 8; n++) events.emit(registered(n));
    await expect.poll(() => droppedTotal).toBe(3);
    expect(errors).toHaveLength(1);
    down = false;
    await expect.poll(async () => (await store.eventsAfter(0, 10)).length).toBe(5);
    const feed = createJournalFeed({ store, onError: (error) => errors.push(error) });
    const got: Array<{ event: FleetEvent }> = [];
    const stop = await feed.subscribe(0, (_, event) => got.push({ event }));
    await expect.poll(() => got.length).toBe(5);
    expect(nodeIds(got)).toEqual(['node-4', 'node-5', 'node-6', 'node-7', 'node-8']);
    stop();
  });
});

describe('journal feed', () => {
  it('gives a subscriber from now only what comes after it subscribed, once each, to every subscriber', async () => {
    events.emit(registered(1));
    await journal.flushed();
    const feed = createJournalFeed({ store, onError: (error) => errors.push(error), pollMs: 50 });
    const a: Array<{ event: FleetEvent }> = [];
    const b: Array<{ event: FleetEvent }> = [];
    const stopA = await feed.subscribe(null, (_, event) => a.push({ event }));
    const stopB = await feed.subscribe(null, (_, event) => b.push({ event }));
    events.emit(registered(2));
    events.emit(registered(3));
    await expect.poll(() => [a.length, b.length]).toEqual([2, 2]);
    stopB();
    events.emit(registered(4));
    await expect.poll(() => a.length).toBe(3);
    expect(nodeIds(a)).toEqual(['node-2', 'node-3', 'node-4']);
    expect(nodeIds(b)).toEqual(['node-2', 'node-3']);
    stopA();
    expect(feed.size()).toBe(0);
  });

  it('a subscriber back from far behind catches up page by page while events keep coming, and misses none', async () => {
    const feed = createJournalFeed({ store, onError: (error) => errors.push(error), pageSize: 7, pollMs: 20 });
    const live: Array<{ event: FleetEvent }> = [];
    const stopLive = await feed.subscribe(null, (_, event) => live.push({ event }));
    for (let n = 1; n <= 60; n++) events.emit(registered(n));
    await journal.flushed();
    const late: Array<{ seq: number; event: FleetEvent }> = [];
    const stopLate = await feed.subscribe(0, (seq, event) => late.push({ seq, event }));
    for (let n = 61; n <= 100; n++) {
      events.emit(registered(n));
      if (n % 10 === 0) await journal.flushed();
    }
    await expect.poll(() => [live.length, late.length]).toEqual([100, 100]);
    const expected = Array.from({ length: 100 }, (_, i) => `node-${i + 1}`);
    expect(nodeIds(late)).toEqual(expected);
    expect(nodeIds(live)).toEqual(expected);
    stopLive();
    stopLate();
    expect(errors).toEqual([]);
  });

  it('a subscriber whose next events were purged goes on from the oldest kept', async () => {
    for (let n = 1; n <= 5; n++) events.emit(registered(n));
    await journal.flushed();
    await store.purgeEventsBefore(new Date(at.getTime() + 4));
    const feed = createJournalFeed({ store, onError: (error) => errors.push(error) });
    const got: Array<{ event: FleetEvent }> = [];
    const stop = await feed.subscribe(1, (_, event) => got.push({ event }));
    await expect.poll(() => got.length).toBe(2);
    expect(nodeIds(got)).toEqual(['node-4', 'node-5']);
    stop();
  });

  it('a subscriber that caught up past the shared reader (its wake-up was lost) gets nothing twice when the reader moves on', async () => {
    // The store's wake-ups go nowhere until the test calls wake(): a LISTEN connection that was down.
    let wake = () => undefined as void;
    const quiet = { eventsAfter: store.eventsAfter, lastEventSeq: store.lastEventSeq, watchEvents: (onAppended: () => void) => ((wake = onAppended), () => undefined) };
    const feed = createJournalFeed({ store: quiet, onError: (error) => errors.push(error), pollMs: 3_600_000 });
    const first: Array<{ event: FleetEvent }> = [];
    const stopFirst = await feed.subscribe(null, (_, event) => first.push({ event }));
    await expect.poll(() => feed.size()).toBe(1);
    for (let n = 1; n <= 2; n++) events.emit(registered(n));
    await journal.flushed();
    wake();
    await expect.poll(() => first.length).toBe(2);
    // The shared reader stays at node-2 while three more are stored.
    for (let n = 3; n <= 5; n++) events.emit(registered(n));
    await journal.flushed();
    const second: Array<{ event: FleetEvent }> = [];
    const stopSecond = await feed.subscribe(0, (_, event) => second.push({ event }));
    await expect.poll(() => [first.length, second.length]).toEqual([5, 5]);
    events.emit(registered(6));
    await journal.flushed();
    wake();
    await expect.poll(() => first.length).toBe(6);
    expect(nodeIds(second)).toEqual(['node-1', 'node-2', 'node-3', 'node-4', 'node-5', 'node-6']);
    stopFirst();
    stopSecond();
  });
});
