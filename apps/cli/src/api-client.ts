// A small typed client for the manager's REST API; errors carry the API's code.
// Server-sent events come as an async iterator (fetch streaming, parsed by
// eventsource-parser).
import { EventSourceParserStream } from 'eventsource-parser/stream';
import type { ApiError, NodeList } from '@metalfleet/api';

export class ApiCallError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiCallError';
    this.status = status;
    this.code = code;
  }
}

export interface StreamedEvent {
  type: string;
  data: Record<string, unknown>;
}

export function createApiClient(baseUrl: string, token: string) {
  const headers = (extra: Record<string, string> = {}) => (token === '' ? extra : { authorization: `Bearer ${token}`, ...extra });

  async function send(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    try {
      return await fetch(new URL(path, baseUrl), {
        method, headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }), ...(signal ? { signal } : {}),
      });
    } catch (error) {
      throw new ApiCallError(0, 'unavailable', `cannot reach the manager at ${baseUrl}: ${String((error as Error).cause ?? (error as Error).message)}`);
    }
  }

  async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await send(method, path, body);
    const text = await response.text();
    const parsed: unknown = text === '' ? null : JSON.parse(text);
    if (!response.ok) {
      const apiError = parsed as ApiError | null;
      throw new ApiCallError(response.status, apiError?.error?.code ?? 'unknown', apiError?.error?.message ?? `HTTP ${response.status}`);
    }
    return parsed as T;
  }

  return {
    request,
    get: <T>(path: string) => request<T>('GET', path),
    /** Proves the token works (any read will do). */
    check: () => request<NodeList>('GET', '/api/v1/nodes?limit=1'),
    /** Every node, page by page. */
    async listNodes(query = ''): Promise<NodeList> {
      const first = await request<NodeList>('GET', `/api/v1/nodes?limit=1000${query}`);
      const items = [...first.items];
      while (items.length < first.total) {
        const page = await request<NodeList>('GET', `/api/v1/nodes?limit=1000&offset=${items.length}${query}`);
        if (page.items.length === 0) break;
        items.push(...page.items);
      }
      return { ...first, items, offset: 0, limit: items.length };
    },
    /** The fleet's events until `signal` aborts. */
    async *events(signal: AbortSignal): AsyncGenerator<StreamedEvent> {
      const response = await send('GET', '/api/v1/events', undefined, signal);
      if (!response.ok || !response.body) throw new ApiCallError(response.status, 'unavailable', `event stream: HTTP ${response.status}`);
      const stream = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
      try {
        for await (const message of stream) {
          const data = JSON.parse(message.data) as Record<string, unknown>;
          // The manager's last word when the token stopped being valid mid-stream.
          if (message.event === 'stream-ended') throw new ApiCallError(401, 'unauthenticated', `the manager ended the event stream: ${String(data['reason'])}`);
          yield { type: message.event ?? 'message', data };
        }
      } catch (error) {
        if (!signal.aborted) throw error;
      }
    },
  };
}

export type ApiClient = ReturnType<typeof createApiClient>;
