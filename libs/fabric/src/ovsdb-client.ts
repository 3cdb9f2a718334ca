// A small OVSDB (RFC 7047) JSON-RPC client over TCP: transact, and the echo
// answers ovsdb-server's inactivity probe expects. Each request has a deadline;
// a lost connection fails every request in flight with `unavailable`.
import { connect, type Socket } from 'node:net';
import { DomainError } from '@metalfleet/domain';
import { JsonStreamSplitter, type JsonStreamOptions } from './json-stream.ts';

export interface OvsdbAddress {
  host: string;
  port: number;
}

/** One OVSDB operation (RFC 7047 §5.2), e.g. { op: 'select', table: 'Port', where: [], columns: ['name'] }. */
export type OvsdbOperation = Record<string, unknown> & { op: string };

export interface OvsdbResult {
  rows?: Array<Record<string, unknown>>;
  count?: number;
  uuid?: unknown;
  error?: string;
  details?: string;
}

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class OvsdbClient {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  private readonly socket: Socket;
  private readonly timeoutMs: number;

  private constructor(socket: Socket, timeoutMs: number, framing: JsonStreamOptions) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    const splitter = new JsonStreamSplitter(framing);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      let texts: string[];
      try {
        texts = splitter.push(chunk);
      } catch (error) {
        // A message past the limit: the stream is out of step, so the connection goes.
        socket.destroy(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      for (const text of texts) this.receive(text);
    });
    socket.on('close', () => this.failAll(new DomainError('unavailable', 'OVSDB connection closed')));
    socket.on('error', (error) => this.failAll(new DomainError('unavailable', `OVSDB connection failed: ${error.message}`)));
  }

  static connect(address: OvsdbAddress, timeoutMs = 5000, framing: JsonStreamOptions = {}): Promise<OvsdbClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(address);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new DomainError('unavailable', `OVSDB at ${address.host}:${address.port} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new OvsdbClient(socket, timeoutMs, framing));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new DomainError('unavailable', `OVSDB at ${address.host}:${address.port}: ${error.message}`));
      });
    });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  request(method: string, params: unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(new DomainError('unavailable', 'OVSDB connection closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new DomainError('unavailable', `OVSDB ${method} timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.write(JSON.stringify({ id, method, params }));
    });
  }

  /** Runs the operations as one transaction; fails if any operation failed (its error, not a partial result). */
  async transact(database: string, operations: OvsdbOperation[]): Promise<OvsdbResult[]> {
    const results = (await this.request('transact', [database, ...operations])) as Array<OvsdbResult | null>;
    const failed = results.find((r) => r?.error);
    if (failed) throw new DomainError('internal', `OVSDB transaction failed: ${failed.error}${failed.details ? ` (${failed.details})` : ''}`);
    return results.map((r) => r ?? {});
  }

  close(): Promise<void> {
    this.closed = true;
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
    });
  }

  private receive(text: string): void {
    let message: { id?: unknown; method?: string; params?: unknown; result?: unknown; error?: unknown };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      this.socket.destroy(new Error('OVSDB sent invalid JSON'));
      return;
    }
    if (message.method === 'echo') {
      this.socket.write(JSON.stringify({ id: message.id, result: message.params, error: null }));
      return;
    }
    if (typeof message.id !== 'number') return; // notifications (update, locked) are not used
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.error) pending.reject(new DomainError('internal', `OVSDB error: ${JSON.stringify(message.error)}`));
    else pending.resolve(message.result);
  }

  private failAll(error: Error): void {
    this.closed = true;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
      this.pending.delete(id);
    }
  }
}
