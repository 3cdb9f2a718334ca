// A spool file found corrupt or empty when the agent starts: the agent opens a
// new one and keeps working; a corrupt one is kept aside for a person.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { quarantinedSpoolsKept } from './spool-open.ts';
import { SpoolFile } from './spool.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);
const dirs: string[] = [];
const files: SpoolFile[] = [];
afterEach(() => {
  for (const f of files.splice(0)) f.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function spoolPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mf-spool-open-'));
  dirs.push(dir);
  return join(dir, 'spool.db');
}

function open(path: string, at = new Date('2026-11-27T12:00:00Z')): SpoolFile {
  const file = new SpoolFile(path, () => at);
  files.push(file);
  return file;
}

/** The new spool takes entries, and keeps them across a reopen. */
function expectWorking(path: string, file: SpoolFile): void {
  file.spool('node').append('t', bytes('after'));
  file.close();
  files.splice(files.indexOf(file), 1);
  const again = open(path);
  expect(again.recovery).toBeNull();
  expect(text(again.spool('node').head()?.payload)).toBe('after');
}

const quarantined = (path: string) => readdirSync(join(path, '..')).filter((n) => n.startsWith('spool.db.corrupt-') && !n.endsWith('-wal')).sort();

describe('opening a spool that is not sound', () => {
  it('garbage bytes: moved aside as spool.db.corrupt-<time>, and a new spool works', () => {
    const path = spoolPath();
    const garbage = Buffer.from('this is not a database at all\n'.repeat(200));
    writeFileSync(path, garbage);
    const file = open(path);
    expect(file.recovery).toMatchObject({ reason: 'corrupt', quarantinedAs: `${path}.corrupt-20261127T120000000Z` });
    expect(readFileSync(file.recovery!.quarantinedAs!)).toEqual(garbage);
    expect(file.spool('node').journalLostAt()).toEqual(new Date('2026-11-27T12:00:00Z'));
    expectWorking(path, file);
  });

  it('a SQLite database that is not a spool (other tables, or a spool table without its columns): moved aside', () => {
    for (const ddl of ['CREATE TABLE photos (id INTEGER PRIMARY KEY, data BLOB)', 'CREATE TABLE spool (id INTEGER PRIMARY KEY, data BLOB)']) {
      const path = spoolPath();
      const other = new DatabaseSync(path);
      other.exec(ddl);
      other.close();
      const file = open(path);
      expect(file.recovery).toMatchObject({ reason: 'corrupt' });
      expect(quarantined(path)).toHaveLength(1);
      expectWorking(path, file);
    }
  });

  it('a spool truncated half-way: moved aside, and a new spool works', () => {
    const path = spoolPath();
    const before = open(path);
    const spool = before.spool('node');
    for (let i = 0; i < 300; i += 1) spool.append('t', bytes(`entry ${i} `.repeat(100)));
    before.close();
    files.splice(files.indexOf(before), 1);
    truncateSync(path, Math.floor(statSync(path).size / 2));
    const file = open(path);
    expect(file.recovery).toMatchObject({ reason: 'corrupt' });
    expect(existsSync(file.recovery!.quarantinedAs!)).toBe(true);
    expect(file.spool('node').size()).toBe(0);
    expectWorking(path, file);
  });

  it(`keeps only the newest ${quarantinedSpoolsKept} quarantined spools`, () => {
    const path = spoolPath();
    for (let i = 0; i < quarantinedSpoolsKept + 2; i += 1) {
      writeFileSync(path, `garbage ${i}`.repeat(100));
      open(path, new Date(Date.UTC(2026, 10, 27, 12, i))).close();
      files.pop();
    }
    const kept = quarantined(path);
    expect(kept).toHaveLength(quarantinedSpoolsKept);
    expect(readFileSync(join(path, '..', kept.at(-1)!), 'utf8')).toContain(`garbage ${quarantinedSpoolsKept + 1}`);
  });

  it('zero-length: replaced, and the new spool remembers that the journal was lost', () => {
    const path = spoolPath();
    writeFileSync(path, '');
    const file = open(path);
    expect(file.recovery).toMatchObject({ reason: 'empty', quarantinedAs: null });
    expect(file.spool('node').journalLostAt()).toEqual(new Date('2026-11-27T12:00:00Z'));
    file.close();
    files.pop();
    // Still known after a restart: commands issued before then stay unrepeated.
    const reopened = open(path, new Date('2026-11-28T00:00:00Z'));
    expect(reopened.recovery).toBeNull();
    expect(reopened.spool('node').journalLostAt()).toEqual(new Date('2026-11-27T12:00:00Z'));
  });

  it('missing where the agent ran before (it has a credential): a new spool that remembers the journal was lost', () => {
    const path = spoolPath();
    const file = new SpoolFile(path, () => new Date('2026-11-27T12:00:00Z'), true);
    files.push(file);
    expect(file.recovery).toMatchObject({ reason: 'missing', quarantinedAs: null });
    expect(file.spool('node').journalLostAt()).toEqual(new Date('2026-11-27T12:00:00Z'));
    expectWorking(path, file);
  });

  it('a spool that cannot be opened this once (not damage: SQLITE_CANTOPEN) is left where it is, and the open fails', () => {
    const path = spoolPath();
    mkdirSync(path);
    expect(() => open(path)).toThrow();
    expect(statSync(path).isDirectory()).toBe(true);
    expect(readdirSync(join(path, '..')).filter((name) => name.includes('.corrupt-'))).toEqual([]);
  });

  it('a sound spool, or a missing one (first start), is no loss', () => {
    const path = spoolPath();
    const first = open(path);
    expect([first.recovery, first.spool('node').journalLostAt()]).toEqual([null, null]);
    expectWorking(path, first);
    expect(quarantined(path)).toEqual([]);
  });
});
