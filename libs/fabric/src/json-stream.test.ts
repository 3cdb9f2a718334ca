import { describe, expect, it } from 'vitest';
import { JsonStreamSplitter } from './json-stream.ts';

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
