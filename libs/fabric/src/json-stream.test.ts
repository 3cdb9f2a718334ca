import { describe, expect, it } from 'vitest';
import { JsonStreamOverflowError, JsonStreamSplitter } from './json-stream.ts';

describe('JsonStreamSplitter', () => {
  it('splits messages sent back to back, whatever the chunking', () => {
    const stream = '{"id":1,"result":[{"rows":[{"name":"p}1"}]}]}{"method":"echo","params":[],"id":"echo"}[1,{"a":"\\"{"}]';
    for (const size of [1, 3, 7, stream.length]) {
      const splitter = new JsonStreamSplitter();
      const texts: string[] = [];
      for (let i = 0; i < stream.length; i += size) texts.push(...splitter.push(stream.slice(i, i + size)));
      expect(texts.map((t) => JSON.parse(t))).toEqual([
        { id: 1, result: [{ rows: [{ name: 'p}1' }] }] },
        { method: 'echo', params: [], id: 'echo' },
        [1, { a: '"{' }],
      ]);
      expect(splitter.pending).toBe(0);
    }
  });

  it('holds a message until it is complete', () => {
    const splitter = new JsonStreamSplitter();
    expect(splitter.push('{"id":1,')).toEqual([]);
    expect(splitter.pending).toBeGreaterThan(0);
    expect(splitter.push('"result":null}')).toEqual(['{"id":1,"result":null}']);
  });
});

describe('JsonStreamSplitter on damaged input', () => {
  it('skips a stray closing brace between messages and keeps splitting the ones after it', () => {
    const splitter = new JsonStreamSplitter();
    const bytes = Buffer.from('{"id":1,"result":[]}}\n]{"id":2,"result":[]}{"id":3,"result":null}', 'utf8');
    const texts: string[] = [];
    for (const byte of bytes) texts.push(...splitter.push(String.fromCharCode(byte)));
    expect(texts.map((t) => JSON.parse(t))).toEqual([
      { id: 1, result: [] },
      { id: 2, result: [] },
      { id: 3, result: null },
    ]);
    expect(splitter.pending).toBe(0);
    expect(splitter.skipped).toBe(2);
  });

  it('refuses a message that grows past the limit with a clear error, and starts clean afterwards', () => {
    const splitter = new JsonStreamSplitter({ maxMessageChars: 1024 });
    splitter.push('{"id":1,"result":"');
    const overflow = (() => {
      try {
        for (let i = 0; i < 100; i += 1) splitter.push('x'.repeat(100));
        return undefined;
      } catch (error) {
        return error;
      }
    })();
    expect(overflow).toBeInstanceOf(JsonStreamOverflowError);
    expect(overflow).toMatchObject({ code: 'invalid-argument', details: { limit: 1024 } });
    expect(String(overflow)).toContain('1024');
    expect(splitter.pending).toBe(0);
    expect(splitter.push('{"id":2,"result":null}')).toEqual(['{"id":2,"result":null}']);
  });

  it('refuses junk that never completes a message, even without an opening brace', () => {
    const splitter = new JsonStreamSplitter({ maxMessageChars: 64 });
    expect(() => splitter.push('['.repeat(65))).toThrow(JsonStreamOverflowError);
  });
});
