// A cap on concurrent connections from one source address, checked on the raw
// socket as it is accepted (before TLS), so one host cannot hold thousands of
// handshakes or half-open MQTT sessions. Nodes behind a NAT share an address:
// the limit is per listener and configurable, and its default leaves room for
// a large NATed pod.
import type { Socket } from 'node:net';

export interface ConnectionLimiter {
  /** Counts the socket against its address until it closes; false (and nothing counted) when the address is at its limit. */
  admit(socket: Socket): boolean;
  /** Open connections from one address. */
  count(address: string): number;
}

/** `limit` 0: no limit. */
export function createConnectionLimiter(limit: number): ConnectionLimiter {
  const open = new Map<string, number>();
  return {
    admit(socket) {
      if (limit <= 0) return true;
      const address = socket.remoteAddress ?? '';
      const current = open.get(address) ?? 0;
      if (current >= limit) return false;
      open.set(address, current + 1);
      socket.once('close', () => {
        const left = (open.get(address) ?? 1) - 1;
        if (left <= 0) open.delete(address);
        else open.set(address, left);
      });
      return true;
    },
    count: (address) => open.get(address) ?? 0,
  };
}

export interface UnauthenticatedLimiter {
  /**
   * Counts the socket as not yet authenticated until the returned function is
   * called (its CONNECT was accepted) or it closes; null (and nothing counted)
   * when the cap is reached.
   */
  admit(socket: Socket): (() => void) | null;
  /** Connections counted now. */
  count(): number;
}

/**
 * A cap on connections that have not authenticated yet, all addresses together:
 * each holds a TLS handshake and parser state (tens of KiB) on nobody's
 * credential, so the per-address cap alone leaves the total unbounded. `limit` 0: no limit.
 */
export function createUnauthenticatedLimiter(limit: number): UnauthenticatedLimiter {
  let open = 0;
  return {
    admit(socket) {
      if (limit > 0 && open >= limit) return null;
      open += 1;
      let counted = true;
      const settle = () => {
        if (!counted) return;
        counted = false;
        open -= 1;
      };
      socket.once('close', settle);
      return settle;
    },
    count: () => open,
  };
}
