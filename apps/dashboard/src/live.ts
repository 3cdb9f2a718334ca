// Live updates: the manager's server-sent event stream, read with fetch (an
// EventSource cannot send the Authorization header) and parsed by
// eventsource-parser. Reconnects after a drop (to whichever manager replica
// answers) with the last event's id, so nothing that happened meanwhile is
// missed; pages subscribe by event type.
import { useEffect, useRef, useState } from 'preact/hooks';
import { createParser } from 'eventsource-parser';
import { session, tokenRefused } from './api.ts';

type Listener = (type: string, data: unknown) => void;
const listeners = new Set<Listener>();
let connected = false;
const statusListeners = new Set<(up: boolean) => void>();

function setConnected(up: boolean): void {
  connected = up;
  for (const l of statusListeners) l(up);
}

let running: AbortController | null = null;

/** Starts (or restarts, after a login) the stream. */
export function connectLive(): void {
  running?.abort();
  const controller = new AbortController();
  running = controller;
  // The journal place of the last event shown; a new login starts from now.
  let lastEventId: string | undefined;
  void (async () => {
    while (!controller.signal.aborted) {
      try {
        const headers: Record<string, string> = { authorization: `Bearer ${session.token() ?? ''}` };
        if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
        const response = await fetch('/api/v1/events', { headers, signal: controller.signal });
        // A revoked or expired token: back to the login page instead of retrying it.
        if (response.status === 401) {
          setConnected(false);
          tokenRefused();
          return;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        setConnected(true);
        const parser = createParser({
          onEvent: (event) => {
            // The manager's last event when the token stops being valid; the next attempt answers 401.
            if (event.event === 'stream-ended') return;
            if (event.id !== undefined) lastEventId = event.id;
            const data: unknown = JSON.parse(event.data);
            for (const l of listeners) l(event.event ?? 'message', data);
          },
        });
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.feed(value);
        }
      } catch {
        // Dropped or refused: shown as offline, retried below.
      }
      setConnected(false);
      await new Promise((r) => setTimeout(r, 2000));
    }
  })();
}

export function disconnectLive(): void {
  running?.abort();
  running = null;
  setConnected(false);
}

/** Whether the live stream is up, for the header. */
export function useLiveStatus(): boolean {
  const [up, setUp] = useState(connected);
  useEffect(() => {
    statusListeners.add(setUp);
    return () => void statusListeners.delete(setUp);
  }, []);
  return up;
}

/** Calls `onBurst` shortly after any of `types` arrives; a burst of events is one call. */
export function useLiveEvents(types: readonly string[], onBurst: () => void): void {
  const callback = useRef(onBurst);
  callback.current = onBurst;
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const listener: Listener = (type) => {
      if (!types.includes(type) || timer) return;
      timer = setTimeout(() => {
        timer = null;
        callback.current();
      }, 300);
    };
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (timer) clearTimeout(timer);
    };
  }, [types.join(',')]);
}

/** Loads with `load` now and again after any of `types` arrives, so a page follows the fleet without a reload. */
export function useLiveData<T>(load: () => Promise<T>, types: readonly string[], deps: readonly unknown[] = []): { data: T | null; error: string | null; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const loadRef = useRef(load);
  loadRef.current = load;
  const [tick, setTick] = useState(0);
  const reload = () => setTick((t) => t + 1);
  useEffect(() => {
    let alive = true;
    loadRef.current().then((value) => {
      if (alive) {
        setData(value);
        setError(null);
      }
    }, (e: unknown) => {
      if (alive) setError(e instanceof Error ? e.message : String(e));
    });
    return () => {
      alive = false;
    };
  }, [tick, ...deps]);
  useLiveEvents(types, reload);
  return { data, error, reload };
}
