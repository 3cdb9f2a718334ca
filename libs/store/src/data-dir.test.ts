// Claiming a data directory: one manager per directory (a lock that a dead
// process does not keep), and a store that is missing, empty or damaged is
// refused with what to do, never taken for a new fleet.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { claimDataDir, type DataDirClaim } from './data-dir.ts';
import { DataDirError } from './data-dir-error.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { newNode } from './fleet-store.contract.ts';
import { openPgFleetStore } from './pg-fleet-store.ts';
import { openSqliteFleetStore } from './sqlite-fleet-store.ts';

const root = mkdtempSync(join(tmpdir(), 'mf-data-dir-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = () => join(root, `d${++dirs}`);

async function refusal(promise: Promise<DataDirClaim>): Promise<DataDirError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(DataDirError);
  return error as DataDirError;
}

/** A data directory as a manager leaves it: a real fleet.db with a few hundred rows, and the other state files. */
async function realDataDir(): Promise<string> {
  const dir = newDir();
  const claim = await claimDataDir({ dir, init: true, postgres: null });
  const store = openSqliteFleetStore({ path: join(dir, 'fleet.db') });
  for (let i = 0; i < 300; i++) await store.createNode(newNode(`node-${i}`, { systemUuid: `uuid-${i}`, systemSerial: `S${i}` }));
  await store.close();
  claim.lock.release();
  for (const file of ['admin-token', 'bootstrap-token', 'secret.key']) writeFileSync(join(dir, file), 'x\n');
  return dir;
}

describe('the data directory lock', () => {
  it('refuses a second holder, naming the first one\'s pid, and lets the next in once released', () => {
    const dir = newDir();
    mkdirSync(dir);
    const first = lockDataDir(dir, 4242);
    expect(() => lockDataDir(dir)).toThrow(new DataDirError('data-dir-locked',
      `data directory ${dir} is in use by another manager (pid 4242): one manager per data directory; stop that one first`));
    first.release();
    lockDataDir(dir).release();
  });

  it('refuses a second claim also after manager.lock was deleted under the first', async () => {
    const dir = await realDataDir();
    const first = await claimDataDir({ dir, init: false, postgres: null });
    rmSync(join(dir, 'manager.lock'));
    const error = await refusal(claimDataDir({ dir, init: false, postgres: null }));
    expect(error.code).toBe('data-dir-locked');
    expect(error.message).toBe(`data directory ${dir} is in use by another manager (pid ${process.pid}): one manager per data directory; stop that one first`);
    first.lock.release();
  });

  it('is not kept from the manager by another local user who binds the directory\'s name first (a squatter)', async () => {
    const dir = await realDataDir();
    // Any local user can bind an abstract socket name and stat a directory it can reach: the name the lock used
    // to take (device and inode) was there for the taking, and the manager refused to start while it was held.
    const { dev, ino } = statSync(dir, { bigint: true });
    const squatter = createServer((socket) => socket.end('1\n'));
    await new Promise<void>((resolve) => squatter.listen(`\0metalfleet-data-dir-${dev.toString(16)}-${ino.toString(16)}`, resolve));
    try {
      const claim = await claimDataDir({ dir, init: false, postgres: null });
      // Still one manager per directory, also with manager.lock deleted under the first.
      rmSync(join(dir, 'manager.lock'));
      expect((await refusal(claimDataDir({ dir, init: false, postgres: null }))).code).toBe('data-dir-locked');
      claim.lock.release();
      // The name comes from a key only the manager's user can read, made once and kept.
      expect(statSync(join(dir, 'lock.key')).mode & 0o777).toBe(0o600);
    } finally {
      squatter.close();
    }
  });

  it('is let go by a process killed with SIGKILL', async () => {
    const dir = newDir();
    mkdirSync(dir);
    const holder = spawn(process.execPath, ['--input-type=module', '-e',
      `import { lockDataDir } from ${JSON.stringify(new URL('./data-dir-lock.ts', import.meta.url).href)}; lockDataDir(${JSON.stringify(dir)}); console.log('held'); setInterval(() => {}, 1000);`],
    { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    expect(() => lockDataDir(dir)).toThrow(`in use by another manager (pid ${holder.pid})`);
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    holder.kill('SIGKILL');
    await exited;
    lockDataDir(dir).release();
  });
});

describe('claiming a data directory', () => {
  it('refuses a fleet whose CA is missing when TLS needs it, unless pki/ was made empty on purpose', async () => {
    const dir = await realDataDir();
    const error = await refusal(claimDataDir({ dir, init: false, ca: true, postgres: null }));
    expect(error.code).toBe('ca-missing');
    expect(error.message).toContain(`${dir}/pki is missing, but ${dir} holds a fleet: restore pki/ (ca.crt and ca.key) from a backup`);
    (await claimDataDir({ dir, init: false, ca: false, postgres: null })).lock.release();
    mkdirSync(join(dir, 'pki'));
    (await claimDataDir({ dir, init: false, ca: true, postgres: null })).lock.release();
  });

  it('an --init cut short: refused without --init, taken up again by --init and finished', async () => {
    const dir = newDir();
    const first = await claimDataDir({ dir, init: true, postgres: null });
    first.init?.begin();
    await openSqliteFleetStore({ path: join(dir, 'fleet.db') }).close();
    first.lock.release();
    const error = await refusal(claimDataDir({ dir, init: false, postgres: null }));
    expect(error.code).toBe('init-incomplete');
    expect(error.message).toBe(`an --init of ${dir} was cut short (${dir}/init-incomplete is there; it holds fleet.db): start with --init again to finish it, ` +
      `or to start over instead, move ${dir} aside and start with --init`);
    const again = await claimDataDir({ dir, init: true, postgres: null });
    expect(again.found.created).toBe(true);
    again.init?.begin();
    again.init?.finish();
    again.lock.release();
    const found = await claimDataDir({ dir, init: false, postgres: null });
    expect(found.found.created).toBe(false);
    found.lock.release();
  });

  it('sets up a new one with --init, and finds it again without', async () => {
    const dir = newDir();
    const made = await claimDataDir({ dir, init: true, postgres: null });
    expect(made.found.created).toBe(true);
    await openSqliteFleetStore({ path: join(dir, 'fleet.db') }).close();
    made.lock.release();
    const found = await claimDataDir({ dir, init: false, postgres: null });
    expect(found.found).toMatchObject({ created: false, integrity: 'ok' });
    expect(found.found.schemaVersion).toBeGreaterThan(0);
    found.lock.release();
  });

  it('refuses a directory that does not exist without --init, and creates nothing', async () => {
    const dir = newDir();
    const error = await refusal(claimDataDir({ dir, init: false, postgres: null }));
    expect(error.code).toBe('data-dir-missing');
    expect(error.message).toBe(`data directory ${dir} does not exist: to set up a new manager there, start it once with --init`);
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses an empty directory without --init, and writes nothing there', async () => {
    const dir = newDir();
    mkdirSync(join(dir, 'images'), { recursive: true });
    expect((await refusal(claimDataDir({ dir, init: false, postgres: null }))).message).toMatch(/holds no manager state: to set up a new manager there, start it once with --init$/);
    expect(readdirSync(dir)).toEqual(['images']);
  });

  it('refuses --init over an existing one', async () => {
    const dir = await realDataDir();
    const error = await refusal(claimDataDir({ dir, init: true, postgres: null }));
    expect(error.code).toBe('init-over-existing');
    expect(error.message).toMatch(/^--init: .* already holds manager state \(fleet\.db, .*\): start without --init to use it/);
  });

  it('refuses a zero-length fleet.db, leaving it as it is', async () => {
    const dir = await realDataDir();
    writeFileSync(join(dir, 'fleet.db'), '');
    const error = await refusal(claimDataDir({ dir, init: false, postgres: null }));
    expect(error.code).toBe('database-empty');
    expect(error.message).toContain('is empty (0 bytes): restore it from a backup');
    expect(statSync(join(dir, 'fleet.db')).size).toBe(0);
  });

  it('refuses a missing fleet.db beside the rest of the state', async () => {
    const dir = await realDataDir();
    rmSync(join(dir, 'fleet.db'));
    const error = await refusal(claimDataDir({ dir, init: false, postgres: null }));
    expect(error.code).toBe('database-missing');
    expect(existsSync(join(dir, 'fleet.db'))).toBe(false);
  });

  it('refuses a fleet.db with damaged pages', async () => {
    const dir = await realDataDir();
    const file = join(dir, 'fleet.db');
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(8192, 0xa5), 0, 8192, Math.floor(statSync(file).size / 2 / 4096) * 4096);
    closeSync(fd);
    const error = await refusal(claimDataDir({ dir, init: false, postgres: null }));
    expect(error.code).toBe('database-corrupt');
    expect(error.message).not.toContain('\n');
    expect(error.message).toMatch(/fleet\.db failed its integrity check \(.+\): restore it from a backup/);
  });

  it('refuses a file that is not a database', async () => {
    const dir = await realDataDir();
    writeFileSync(join(dir, 'fleet.db'), 'not a database at all, but not empty either '.repeat(200));
    expect((await refusal(claimDataDir({ dir, init: false, postgres: null }))).code).toBe('database-corrupt');
  });

  it('refuses a directory another manager holds', async () => {
    const dir = await realDataDir();
    const first = await claimDataDir({ dir, init: false, postgres: null });
    expect((await refusal(claimDataDir({ dir, init: false, postgres: null }))).message).toContain(`in use by another manager (pid ${process.pid})`);
    first.lock.release();
  });
});

describe('claiming a data directory with its state on PostgreSQL', () => {
  const connectionString = process.env['METALFLEET_TEST_POSTGRES'] ?? 'postgresql://postgres@127.0.0.1:5432/test';
  const schema = `mf_test_datadir_${randomBytes(4).toString('hex')}`;
  const postgres = { connectionString, schema };
  afterAll(async () => {
    const client = new pg.Client({ connectionString });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  });

  it('refuses a schema without metalfleet tables unless --init; then refuses --init over it', async () => {
    const missing = await refusal(claimDataDir({ dir: newDir(), init: false, postgres }));
    expect(missing.message).toBe(`PostgreSQL schema ${schema} holds no metalfleet state: to set up a new manager there, start it once with --init (or check --postgres-url and --postgres-schema)`);
    const dir = newDir();
    const made = await claimDataDir({ dir, init: true, postgres });
    expect(made.found.created).toBe(true);
    await (await openPgFleetStore({ connectionString, schema })).close();
    made.lock.release();
    const again = await refusal(claimDataDir({ dir, init: true, postgres }));
    expect(again.message).toMatch(new RegExp(`^--init: PostgreSQL schema ${schema} already holds metalfleet state \\(schema version \\d+\\)`));
    const found = await claimDataDir({ dir, init: false, postgres });
    expect(found.found.schemaVersion).toBeGreaterThan(0);
    found.lock.release();
  });
});
