// OVSDB (RFC 7047) sends JSON-RPC messages back to back on a TCP stream, with
// no length prefix or delimiter. This splits the stream into whole JSON texts
// by tracking nesting depth outside of strings.

export class JsonStreamSplitter {
  private buffer = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private scanned = 0;

  /** Feeds a chunk; returns the complete JSON texts it finished. */
  push(chunk: string): string[] {
    this.buffer += chunk;
    const texts: string[] = [];
    let start = 0;
    for (let i = this.scanned; i < this.buffer.length; i += 1) {
      const c = this.buffer[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') this.inString = false;
      } else if (c === '"') this.inString = true;
      else if (c === '{' || c === '[') this.depth += 1;
      else if (c === '}' || c === ']') {
        this.depth -= 1;
        if (this.depth === 0) {
          texts.push(this.buffer.slice(start, i + 1).trim());
          start = i + 1;
        }
      }
    }
    this.buffer = this.buffer.slice(start);
    this.scanned = this.buffer.length;
    if (this.depth === 0 && this.buffer.trim() === '') {
      this.buffer = '';
      this.scanned = 0;
    }
    return texts;
  }

  /** Characters held waiting for the rest of a message. */
  get pending(): number {
    return this.buffer.length;
  }
}
