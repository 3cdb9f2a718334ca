import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpoolFile } from './spool.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);

describe('spool', () => {
  it('keeps entries in order across a restart, until removed', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'mf-spool-')), 'spool.db');
    const file = new SpoolFile(path);
    const first = file.spool('node');
    first.append('t', bytes('a'));
    first.append('t', bytes('b'));
    expect(first.bump('sequence')).toBe(1);
    file.close();
    const reopened = new SpoolFile(path);
    const again = reopened.spool('node');
    expect(text(again.head()?.payload)).toBe('a');
    again.remove(again.head()!.seq);
    expect(text(again.head()?.payload)).toBe('b');
    expect(again.bump('sequence')).toBe(2);
    again.remove(again.head()!.seq);
    expect(again.head()).toBeNull();
    reopened.close();
  });

  it('drops the oldest entries past its bound, and counts them', () => {
    const spool = new SpoolFile(':memory:').spool('node', 3);
    for (const s of ['1', '2', '3', '4', '5']) spool.append('t', bytes(s));
    expect(spool.size()).toBe(3);
    expect(text(spool.head()?.payload)).toBe('3');
    expect(spool.counter('dropped')).toBe(2);
  });

  it('keeps only the latest entry of a replaceable kind, in its new place', () => {
    const spool = new SpoolFile(':memory:').spool('node');
    spool.append('t', bytes('digest-1'), 'digest');
    spool.append('t', bytes('event-1'));
    spool.append('t', bytes('digest-2'), 'digest');
    const out: string[] = [];
    for (let e = spool.head(); e; e = spool.head()) {
      out.push(text(e.payload));
      spool.remove(e.seq);
    }
    expect(out).toEqual(['event-1', 'digest-2']);
  });

  it('keeps simulated nodes sharing one file apart', () => {
    const file = new SpoolFile(':memory:');
    const a = file.spool('sim-001');
    const b = file.spool('sim-002');
    a.append('t', bytes('for a'));
    b.append('t', bytes('for b'));
    a.bump('sequence');
    expect(text(a.head()?.payload)).toBe('for a');
    expect(text(b.head()?.payload)).toBe('for b');
    b.remove(a.head()!.seq); // another node's entry is not b's to remove
    expect(a.size()).toBe(1);
    expect([a.counter('sequence'), b.counter('sequence')]).toEqual([1, 0]);
  });
});
