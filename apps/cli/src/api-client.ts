// A small typed client for the manager's REST API; errors carry the API's code.
// Server-sent events come as an async iterator (fetch streaming, parsed by
// eventsource-parser).
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
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

/** Codes of a certificate the client could not verify. */
const untrusted = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID']);

/** What to do about a connection that failed, where the cause says more than "fetch failed". */
export function connectionHint(baseUrl: string, cause: { code?: string; message?: string }): string {
  const code = cause.code ?? '';
  if (untrusted.has(code)) {
    return 'the manager\'s certificate is not trusted: give its CA with --ca-file <dataDir>/pki/ca.crt (or METALFLEET_CA_FILE); `metalfleet login` saves it';
  }
  if (baseUrl.startsWith('http:') && (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET')) {
    return `the manager speaks HTTPS on this port unless started with --http-tls false: use --manager ${baseUrl.replace(/^http:/, 'https:')} with --ca-file <dataDir>/pki/ca.crt`;
  }
  if (baseUrl.startsWith('https:') && /WRONG_VERSION_NUMBER|packet length too long|http request/i.test(`${code} ${cause.message ?? ''}`)) {
    return `the manager answers plain HTTP here (started with --http-tls false?): use --manager ${baseUrl.replace(/^https:/, 'http:')}`;
  }
  return '';
}

/**
 * A client of the API at `baseUrl`. `ca` (PEM), when given, is trusted for the manager's certificate
 * besides the system's CAs: the CLI is one short-lived process, so it is added to the process's default CAs.
 */
export function createApiClient(baseUrl: string, token: string, ca = '') {
  if (ca !== '') {
    const current = getCACertificates('default');
    if (!current.includes(ca)) setDefaultCACertificates([...current, ca]);
  }
  const headers = (extra: Record<string, string> = {}) => (token === '' ? extra : { authorization: `Bearer ${token}`, ...extra });

  async function send(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    try {
      return await fetch(new URL(path, baseUrl), {
        method, headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }), ...(signal ? { signal } : {}),
      });
    } catch (error) {
      const cause = (error as Error).cause as { code?: string; message?: string } | undefined;
      const hint = cause ? connectionHint(baseUrl, cause) : '';
      throw new ApiCallError(0, 'unavailable', `cannot reach the manager at ${baseUrl}: ${String(cause ?? (error as Error).message)}${hint ? `; ${hint}` : ''}`);
    }
  }

  async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await send(method, path, body);
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // A proxy's or a captive portal's page: not the manager's answer.
      const got = response.headers.get('content-type') ?? 'no content type';
      throw new ApiCallError(response.status, 'unknown', `${baseUrl} answered ${got}, not application/json (HTTP ${response.status}): is it the manager?`);
    }
    if (!response.ok) {
      const apiError = parsed as ApiError | null;
      throw new ApiCallError(response.status, apiError?.error?.code ?? 'unknown', apiError?.error?.message ?? `HTTP ${response.status}`);
    }
    return parsed as T;
  }

  /** A file of `contentType` the API answers with (not JSON): its bytes, or the API's error. */
  async function download(path: string, contentType: string): Promise<Buffer> {
    const response = await send('GET', path);
    if (!response.ok) {
      const text = await response.text();
      let apiError: ApiError | null = null;
      try {
        apiError = JSON.parse(text) as ApiError;
      } catch {
        // Not the API's error (a proxy's page): its status says enough.
      }
      throw new ApiCallError(response.status, apiError?.error?.code ?? 'unknown', apiError?.error?.message ?? `HTTP ${response.status}`);
    }
    // A proxy's or a captive portal's page answered 200 is no bundle: said, never written as one.
    const got = response.headers.get('content-type') ?? '';
    if (!got.startsWith(contentType)) throw new ApiCallError(response.status, 'unknown', `${baseUrl} answered ${got || 'no content type'}, not ${contentType}: is it the manager?`);
    return Buffer.from(await response.arrayBuffer());
  }

  return {
    request,
    download,
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
      try {
        // Stopped while still connecting (Ctrl-C right after a watch began) ends the stream the same way.
        const response = await send('GET', '/api/v1/events', undefined, signal);
        if (!response.ok || !response.body) throw new ApiCallError(response.status, 'unavailable', `event stream: HTTP ${response.status}`);
        const stream = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
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
