// A client of the manager's event stream (GET /api/v1/events), as the
// dashboard reads it: what arrived so far, with each event's id, read on until
// a condition holds.
import { EventSourceParserStream } from 'eventsource-parser/stream';

export interface StreamedEvent { id: string | undefined; type: string; data: Record<string, unknown> }

export async function openEventStream(url: string, headers: Record<string, string>) {
  const controller = new AbortController();
  const response = await fetch(`${url}/api/v1/events`, { headers, signal: controller.signal });
  if (response.status !== 200 || !response.body) throw new Error(`event stream: HTTP ${response.status} ${await response.text()}`);
  const received: StreamedEvent[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  void (async () => {
    try {
      const stream = response.body?.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
      if (!stream) return;
      for await (const message of stream) {
        received.push({ id: message.id, type: message.event ?? 'message', data: JSON.parse(message.data) as Record<string, unknown> });
        for (const wake of [...waiters]) wake();
      }
    } catch {
      // Closed by the test (abort), or the manager went away.
    } finally {
      ended = true;
      for (const wake of [...waiters]) wake();
    }
  })();
  return {
    received,
    /** Resolves with what arrived once `condition` holds; rejects after `timeoutMs` or when the stream ends first. */
    until(condition: (events: StreamedEvent[]) => boolean, timeoutMs = 30_000): Promise<StreamedEvent[]> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`event stream: condition not met in ${timeoutMs} ms; got ${JSON.stringify(received.map((e) => e.type))}`)), timeoutMs);
        const done = (error?: Error) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (error) reject(error);
          else resolve(received);
        };
        const check = () => {
          if (condition(received)) done();
          else if (ended) done(new Error(`event stream ended before the condition was met; got ${JSON.stringify(received.map((e) => e.type))}`));
        };
        waiters.add(check);
        check();
      });
    },
    close: () => controller.abort(),
  };
}
