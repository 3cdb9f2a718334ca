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
}

/** Why the gate closed a connection: its queue was full, it waited too long, or its first message (a TLS hello, a CONNECT) did not come whole in time or was none. */
export type ShedReason = 'queue-full' | 'waited-too-long' | 'no-first-message';

export interface ConnectGate {
  /**
   * Calls `begin` when the socket's turn comes (at once when a slot is free).
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
  const queue: Waiter[] = [];
  // Waiters leave the queue lazily (a closed or timed-out one is skipped when reached), so removal is O(1).
  let head = 0;
  let queued = 0;

  const refuse = (socket: Socket, reason: ShedReason) => {
    shed += 1;
    options.onShed?.(socket, reason);
    socket.destroy();
  };

  const next = () => {
    while (head < queue.length && (options.concurrent <= 0 || active < options.concurrent)) {
      const waiter = queue[head];
      queue[head] = undefined as unknown as Waiter;
      head += 1;
      if (!waiter || waiter.held.released) continue;
      queued -= 1;
      clearTimeout(waiter.timer);
      waiter.held.started = true;
      active += 1;
      waiter.begin();
    }
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
  };

  return {
    enter(socket, begin) {
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
      if (options.concurrent <= 0 || (active < options.concurrent && queued === 0)) {
        held.started = true;
        active += 1;
        begin();
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
      queue.push({ socket, begin, timer, held });
      return release;
    },
    active: () => active,
    waiting: () => queued,
    shed: () => shed,
    refuse,
  };
}
