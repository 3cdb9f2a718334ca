// Admission control for a connect storm: at most `concurrent` connections are
// being set up (TLS handshake, CONNECT, credential check) at a time; the rest
// wait, accepted but untouched (no TLS state: a socket and a queue entry), in
// arrival order, and one that has waited `maxWaitMs` is closed unread.
//
// Without it every accepted connection starts its handshake at once. When
// thousands arrive together the event loop shares itself over all of them, no
// handshake finishes before its client's connect timeout, the client drops it
// and dials again, and the manager keeps working for peers that have left: the
// storm stalls instead of converging. With the gate each admitted handshake
// gets the CPU and finishes; a connection that would wait longer than its
// client does is closed before any TLS work, which costs an accept and a close,
// and its agent comes back after a jittered backoff.
//
// Set-ups also begin only during the first `turnBudgetMs` of an event-loop
// turn: hellos arrive by the thousand in one poll phase of a storm, and each
// that found a free slot began its handshake at once. Before turns ended at the
// next check phase (storm-listener.ts), a slot was freed from inside the TLS 1.3
// handshake, and the freed slot began the next waiting one at once: every
// buffered handshake ran in one synchronous chain, a 10,000-node storm held the
// event loop for seconds at a time, and /healthz went unanswered for 6 s. Past
// the budget, the next set-ups begin on the following turn, after the loop has
// served other I/O. (A count per turn instead, 64, kept turns short but halved
// the storm's handshake rate: turns are long for other work then, and 4,818
// waiting nodes were shed.)
import type { Socket } from 'node:net';

export interface ConnectGateOptions {
  /** Connections set up at once (0: no limit). */
  concurrent: number;
  /** Connections waiting for a turn (beyond: closed at once). */
  maxWaiting: number;
  /** Longest wait for a turn; then the connection is closed unread. */
  maxWaitMs: number;
  /** A connection closed by the gate (before any TLS work). */
  onShed?: (socket: Socket, reason: ShedReason) => void;
  /** How long into an event-loop turn set-ups may still begin (default 50 ms; see above). */
  turnBudgetMs?: number;
  /** Milliseconds, monotonic (default performance.now; tests give their own). */
  clock?: () => number;
}

/** Why the gate closed a connection: its queue was full, it waited too long, or its first message (a TLS hello, a CONNECT) did not come whole in time or was none. */
export type ShedReason = 'queue-full' | 'waited-too-long' | 'no-first-message';

export interface ConnectGate {
  /**
   * Calls `begin` when the socket's turn comes: at once when a slot is free and this event-loop turn is
   * within its budget for set-ups, else on a later turn.
   * The slot is held until the returned function is called (the connection is
   * authenticated) or the socket closes.
   */
  enter(socket: Socket, begin: () => void): () => void;
  /** Connections being set up now. */
  active(): number;
  /** Connections waiting for a turn now. */
  waiting(): number;
  /** Connections closed by the gate so far. */
  shed(): number;
  /** Closes a connection that never queued (its first message did not come): counted among the shed. */
  refuse(socket: Socket, reason: ShedReason): void;
}

interface Waiter {
  socket: Socket;
  begin: () => void;
  timer: NodeJS.Timeout;
  held: { released: boolean; started: boolean };
}

export function createConnectGate(options: ConnectGateOptions): ConnectGate {
  let active = 0;
  let shed = 0;
  // When the first set-up of this event-loop turn began (null: none yet); the turn's end (setImmediate) resets it
  // and begins the next in line.
  let turnStartedAt: number | null = null;
  const limited = options.concurrent > 0;
  const clock = options.clock ?? (() => performance.now());
  const budgetMs = options.turnBudgetMs ?? 50;
  const mayBegin = () => !limited || (active < options.concurrent && (turnStartedAt === null || clock() - turnStartedAt < budgetMs));
  const endTurn = () => {
    turnStartedAt = null;
    next();
  };
  const queue: Waiter[] = [];
  // Waiters leave the queue lazily (a closed or timed-out one is skipped when reached), so removal is O(1).
  let head = 0;
  let queued = 0;

  const refuse = (socket: Socket, reason: ShedReason) => {
    shed += 1;
    options.onShed?.(socket, reason);
    socket.destroy();
  };

  const begin = (start: () => void) => {
    active += 1;
    if (limited && turnStartedAt === null) {
      turnStartedAt = clock();
      setImmediate(endTurn);
    }
    start();
  };

  const next = () => {
    while (head < queue.length && mayBegin()) {
      const waiter = queue[head];
      queue[head] = undefined as unknown as Waiter;
      head += 1;
      if (!waiter || waiter.held.released) continue;
      queued -= 1;
      clearTimeout(waiter.timer);
      waiter.held.started = true;
      begin(waiter.begin);
    }
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
  };

  return {
    enter(socket, start) {
      const held = { released: false, started: false };
      const release = () => {
        if (held.released) return;
        held.released = true;
        if (held.started) {
          active -= 1;
          next();
        } else {
          queued -= 1;
        }
      };
      socket.once('close', release);
      if (queued === 0 && mayBegin()) {
        held.started = true;
        begin(start);
        return release;
      }
      if (queued >= options.maxWaiting) {
        held.released = true;
        refuse(socket, 'queue-full');
        return release;
      }
      const timer = setTimeout(() => {
        if (held.started || held.released) return;
        release();
        refuse(socket, 'waited-too-long');
      }, options.maxWaitMs);
      timer.unref();
      queued += 1;
      queue.push({ socket, begin: start, timer, held });
      return release;
    },
    active: () => active,
    waiting: () => queued,
    shed: () => shed,
    refuse,
  };
}
