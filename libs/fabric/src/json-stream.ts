// OVSDB (RFC 7047) sends JSON-RPC messages back to back on a TCP stream, with
// no length prefix or delimiter. This splits the stream into whole JSON texts
// by tracking nesting depth outside of strings.
//
// A peer is not trusted to send well-formed framing: between messages only an
// opening brace or bracket starts a text, so a stray closing brace (or other
// junk) is skipped and the splitter stays in step with the messages after it;
// a message that never ends is refused once it passes a limit, instead of the
// buffer growing until the process runs out of memory.
import { DomainError } from '@metalfleet/domain';

/** Large enough for a select over every port of a big switch; far below what hurts the manager. */
export const defaultMaxMessageChars = 16 * 1024 * 1024;

export interface JsonStreamOptions {
  /** Most characters one message may hold (the text waiting for its end included). */
  maxMessageChars?: number;
}

/** A message passed the limit: the stream cannot be trusted to be in step any more. */
export class JsonStreamOverflowError extends DomainError {
  constructor(limit: number) {
    super('invalid-argument', `JSON message longer than ${limit} characters`, { limit });
    this.name = 'JsonStreamOverflowError';
  }
}

export class JsonStreamSplitter {
  private buffer = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private scanned = 0;
  private skippedChars = 0;
  private readonly limit: number;

  constructor(options: JsonStreamOptions = {}) {
    this.limit = options.maxMessageChars ?? defaultMaxMessageChars;
  }

  /**
   * Feeds a chunk; returns the complete JSON texts it finished. Throws
   * JsonStreamOverflowError when a message passes the limit; what was held is
   * dropped, so the splitter starts clean (the caller should drop the connection).
   */
  push(chunk: string): string[] {
    this.buffer += chunk;
    const texts: string[] = [];
    let start = 0;
    for (let i = this.scanned; i < this.buffer.length; i += 1) {
      const c = this.buffer[i];
      if (this.depth === 0) {
        // Between messages: only { or [ opens one. Anything else is skipped,
        // whitespace silently, other characters counted.
        if (c === '{' || c === '[') {
          this.depth = 1;
          start = i;
        } else {
          if (c !== ' ' && c !== '\n' && c !== '\r' && c !== '\t') this.skippedChars += 1;
          start = i + 1;
        }
      } else if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') this.inString = false;
      } else if (c === '"') this.inString = true;
      else if (c === '{' || c === '[') this.depth += 1;
      else if (c === '}' || c === ']') {
        this.depth -= 1;
        if (this.depth === 0) {
          texts.push(this.buffer.slice(start, i + 1));
          start = i + 1;
        }
      }
    }
    this.buffer = this.buffer.slice(start);
    this.scanned = this.buffer.length;
    if (this.buffer.length > this.limit) {
      this.reset();
      throw new JsonStreamOverflowError(this.limit);
    }
    return texts;
  }

  /** Characters held waiting for the rest of a message. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Characters found between messages that could not start one (stray braces, junk), since creation. */
  get skipped(): number {
    return this.skippedChars;
  }

  private reset(): void {
    this.buffer = '';
    this.scanned = 0;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
  }
}
