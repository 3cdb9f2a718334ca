import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { newNode } from './fleet-store.contract.ts';
import { openSqliteFleetStore } from './sqlite-fleet-store.ts';
import { UnknownStoredValueError } from './rows.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-statements-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

describe('SQLite statements', () => {
  it('prepares the credential lookup of an MQTT CONNECT once, and still answers each node its own hash', async () => {
    const store = openSqliteFleetStore({ path: join(dir, 'cache', 'fleet.db') });
    try {
      await store.createNode({ ...newNode('n1', { systemUuid: 'u-1' }), credentialHash: 'hash-1' });
      await store.createNode({ ...newNode('n2', { systemUuid: 'u-2' }), credentialHash: 'hash-2' });
      await store.credentialHash('n1');
      const prepare = vi.spyOn(DatabaseSync.prototype, 'prepare');
      const answers: Array<string | null> = [];
      for (let i = 0; i < 50; i += 1) answers.push(await store.credentialHash(i % 2 === 0 ? 'n1' : 'n2'));
      answers.push(await store.credentialHash('nobody'));
      expect(prepare).not.toHaveBeenCalled();
      expect(answers.slice(0, 2)).toEqual(['hash-1', 'hash-2']);
      expect(new Set(answers.slice(0, 50))).toEqual(new Set(['hash-1', 'hash-2']));
      expect(answers.at(-1)).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('prepares the queries of the shared SQL stores once too', async () => {
    const store = openSqliteFleetStore({ path: join(dir, 'executor', 'fleet.db') });
    try {
      await store.listApiTokens();
      const prepare = vi.spyOn(DatabaseSync.prototype, 'prepare');
      for (let i = 0; i < 20; i += 1) expect(await store.listApiTokens()).toEqual([]);
      expect(prepare).not.toHaveBeenCalled();
    } finally {
      await store.close();
    }
  });
});

describe('SQLite rows', () => {
  it('refuses a node whose stored state is not one it knows, naming the value, instead of calling it discovered', async () => {
    const path = join(dir, 'state', 'fleet.db');
    const store = openSqliteFleetStore({ path });
    try {
      await store.createNode(newNode('n1', { systemUuid: 'u-1' }));
      const raw = new DatabaseSync(path);
      raw.prepare("UPDATE nodes SET state = 'zombie' WHERE id = 'n1'").run();
      raw.close();
      const failure = await store.getNode('n1').catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(UnknownStoredValueError);
      expect(failure).toMatchObject({ code: 'internal', details: { column: 'nodes.state', value: 'zombie' } });
      expect(String(failure)).toContain("'zombie'");
      await expect(store.listNodes()).rejects.toThrow(UnknownStoredValueError);
    } finally {
      await store.close();
    }
  });
});
