import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createConnectGate } from './connect-gate.ts';

/** A socket as far as the gate sees one: it closes, and the gate may destroy it. */
function fakeSocket(): Socket & { destroyed: boolean } {
  const socket = new EventEmitter() as Socket & { destroyed: boolean };
  socket.destroyed = false;
  socket.destroy = () => {
    if (!socket.destroyed) {
      socket.destroyed = true;
      socket.emit('close');
    }
    return socket;
  };
  return socket;
}

/** Lets the event loop turn: the gate begins the next set-ups then (a setImmediate, faked). */
const nextTurn = () => vi.advanceTimersByTime(0);

describe('createConnectGate (admission control for connection set-up)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('begins set-ups only in the first turnBudgetMs of an event-loop turn, even when each frees its slot at once (TLS 1.3: freed mid-handshake)', async () => {
    let ms = 0;
    const gate = createConnectGate({ concurrent: 2, maxWaiting: 100, maxWaitMs: 10_000, turnBudgetMs: 25, clock: () => ms });
    const begun: number[] = [];
    const releases: Array<() => void> = [];
    // Each handshake takes 10 ms of CPU and frees its slot from a later tick of the same turn, as its keylog event does.
    for (let i = 0; i < 10; i += 1) releases.push(gate.enter(fakeSocket(), () => {
      begun.push(i);
      process.nextTick(() => {
        ms += 10;
        releases[i]!();
      });
    }));
    await new Promise((resolve) => process.nextTick(resolve));
    // Slots freed at 10 and 20 ms began the next two; the one freed at 30 ms waits for the next turn. Before: every
    // freed slot began the next at once, and all ten ran in one synchronous chain (100 ms).
    expect(begun).toEqual([0, 1, 2, 3]);
    expect(gate.waiting()).toBe(6);
    nextTurn();
    expect(begun).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('sets up at most `concurrent` connections at once; the rest wait their turn in arrival order', () => {
    const gate = createConnectGate({ concurrent: 2, maxWaiting: 100, maxWaitMs: 10_000 });
    const begun: number[] = [];
    const releases = Array.from({ length: 5 }, (_, i) => gate.enter(fakeSocket(), () => begun.push(i)));
    expect(begun).toEqual([0, 1]);
    expect(gate.waiting()).toBe(3);
    releases[0]!(); // authenticated: its slot goes to the next in line, on the next turn
    nextTurn();
    expect(begun).toEqual([0, 1, 2]);
    releases[0]!(); // a second call changes nothing
    expect(begun).toEqual([0, 1, 2]);
    expect(gate.active()).toBe(2);
  });

  it('frees the slot of a connection that closes while being set up', () => {
    const gate = createConnectGate({ concurrent: 1, maxWaiting: 100, maxWaitMs: 10_000 });
    const first = fakeSocket();
    const begun: string[] = [];
    gate.enter(first, () => begun.push('first'));
    gate.enter(fakeSocket(), () => begun.push('second'));
    first.destroy();
    nextTurn();
    expect(begun).toEqual(['first', 'second']);
  });

  it('skips a waiting connection whose peer left, without setting it up', () => {
    const gate = createConnectGate({ concurrent: 1, maxWaiting: 100, maxWaitMs: 10_000 });
    const release = gate.enter(fakeSocket(), () => undefined);
    const gone = fakeSocket();
    const begun: string[] = [];
    gate.enter(gone, () => begun.push('gone'));
    gate.enter(fakeSocket(), () => begun.push('next'));
    gone.destroy();
    expect(gate.waiting()).toBe(1);
    release();
    nextTurn();
    expect(begun).toEqual(['next']);
  });

  it('closes, unread and never set up, a connection that waited maxWaitMs (shorter than the client waits), and counts it', () => {
    const shed: string[] = [];
    const gate = createConnectGate({ concurrent: 1, maxWaiting: 100, maxWaitMs: 10_000, onShed: (_s, reason) => shed.push(reason) });
    gate.enter(fakeSocket(), () => undefined);
    const waiting = fakeSocket();
    let begun = false;
    gate.enter(waiting, () => (begun = true));
    vi.advanceTimersByTime(9_999);
    expect(waiting.destroyed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(waiting.destroyed).toBe(true);
    expect(begun).toBe(false);
    expect(shed).toEqual(['waited-too-long']);
    expect(gate.shed()).toBe(1);
    expect(gate.waiting()).toBe(0);
  });

  it('closes at once a connection that finds the queue full', () => {
    const shed: string[] = [];
    const gate = createConnectGate({ concurrent: 1, maxWaiting: 1, maxWaitMs: 10_000, onShed: (_s, reason) => shed.push(reason) });
    gate.enter(fakeSocket(), () => undefined);
    gate.enter(fakeSocket(), () => undefined);
    const third = fakeSocket();
    gate.enter(third, () => undefined);
    expect(third.destroyed).toBe(true);
    expect(shed).toEqual(['queue-full']);
  });

  it('with concurrent 0 sets every connection up at once', () => {
    const gate = createConnectGate({ concurrent: 0, maxWaiting: 0, maxWaitMs: 1 });
    let begun = 0;
    for (let i = 0; i < 1000; i += 1) gate.enter(fakeSocket(), () => (begun += 1));
    expect(begun).toBe(1000);
  });

  it('keeps order and counts through a long storm (the queue compacts as it drains)', async () => {
    // Real turns: faked ones cost a scan of the 5,000 wait timers each.
    vi.useRealTimers();
    const gate = createConnectGate({ concurrent: 3, maxWaiting: 100_000, maxWaitMs: 60_000 });
    const begun: number[] = [];
    const releases: Array<() => void> = [];
    for (let i = 0; i < 5000; i += 1) releases.push(gate.enter(fakeSocket(), () => begun.push(i)));
    // Each turn the three being set up are authenticated, and three more begin on the next.
    for (let i = 0; i < 5000; i += 3) {
      for (const release of releases.slice(i, i + 3)) release();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(begun).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(gate.active()).toBe(0);
    expect(gate.waiting()).toBe(0);
  });
});
