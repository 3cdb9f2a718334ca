// The real manager binary and its data directory: one manager per directory
// (a second is refused, the first keeps serving, a kill -9 leaves no lock that
// blocks the restart), and a database that is missing, empty or damaged stops
// the start with what to do, never a silent fresh install with new tokens.
import { execFile } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagerProcess } from '../support/manager.ts';
import { managerBin } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-data-dir-'));
const manager = new ManagerProcess(join(dir, 'manager'));

interface Exit { code: number | null; stderr: string }

/** Runs the manager on `dataDir` until it exits; one that does not refuse is stopped after a while (the test then fails on its exit code). */
function run(dataDir: string, args: string[] = [], env: Record<string, string> = {}): Promise<Exit & { signal: string | null }> {
  const ports = ['--http-port', '0', '--grpc-port', '0', '--mqtt-port', '0', '--boot-port', '0'];
  return new Promise((resolve) => {
    execFile(process.execPath, [managerBin, '--data-dir', dataDir, '--listen-host', '127.0.0.1', ...ports, ...args], { timeout: 20_000, env: { ...process.env, ...env } },
      (error, _stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, signal: error?.signal ?? null, stderr }));
  });
}

function expectRefused(result: Exit, line: RegExp): void {
  expect(result.stderr).toMatch(/^metalfleet-manager: [^\n]+\n$/);
  expect(result.stderr).toMatch(line);
  expect(result.code).toBe(2);
}

/** Every file under `path` with its bytes, to show a refusal wrote nothing. */
function snapshot(path: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(path, { recursive: true, encoding: 'utf8' })) {
    const file = join(path, name);
    if (statSync(file).isFile()) files[name] = readFileSync(file).toString('base64');
  }
  return files;
}

/** A copy of the stopped manager's data directory, to damage. */
function copyOfState(name: string): string {
  const copy = join(dir, name);
  cpSync(manager.dataDir, copy, { recursive: true });
  return copy;
}

beforeAll(() => manager.start());
afterAll(async () => {
  await manager.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('one manager per data directory', () => {
  it('refuses a second manager on the directory, naming the first one\'s pid; the first keeps serving', async () => {
    const before = await manager.nodes();
    const second = await run(manager.dataDir);
    expectRefused(second, new RegExp(`data directory ${manager.dataDir} is in use by another manager \\(pid ${manager.proc?.child.pid}\\): one manager per data directory; stop that one first`));
    expect(await manager.nodes()).toEqual(before);
  });

  it('refuses a second manager also after manager.lock was deleted under the first', async () => {
    rmSync(join(manager.dataDir, 'manager.lock'));
    const before = await manager.nodes();
    const second = await run(manager.dataDir);
    expectRefused(second, new RegExp(`data directory ${manager.dataDir} is in use by another manager \\(pid ${manager.proc?.child.pid}\\): one manager per data directory; stop that one first`));
    expect(await manager.nodes()).toEqual(before);
  });

  it('starts again after the first was killed with SIGKILL (no stale lock)', async () => {
    const admin = manager.adminToken;
    await manager.proc?.stop('SIGKILL');
    await manager.start();
    expect((await manager.nodes()).items).toEqual([]);
    expect(manager.adminToken).toBe(admin);
  });
});

describe('a data directory without usable state', () => {
  beforeAll(() => manager.stop());
  afterAll(() => manager.start());

  it('refuses a directory that does not exist without --init, creating nothing', async () => {
    const missing = join(dir, 'never-made');
    expectRefused(await run(missing), new RegExp(`data directory ${missing} does not exist: to set up a new manager there, start it once with --init`));
    expect(existsSync(missing)).toBe(false);
  });

  it('refuses --init where there is a database already, changing nothing', async () => {
    const before = snapshot(manager.dataDir);
    expectRefused(await run(manager.dataDir, ['--init']), /--init: .* already holds manager state \(fleet\.db, .*\): start without --init to use it/);
    expect(snapshot(manager.dataDir)).toEqual(before);
  });

  it('refuses a zero-length fleet.db with instructions, and writes nothing (no new tokens)', async () => {
    const copy = copyOfState('empty-db');
    writeFileSync(join(copy, 'fleet.db'), '');
    for (const file of ['fleet.db-wal', 'fleet.db-shm']) rmSync(join(copy, file), { force: true });
    const before = snapshot(copy);
    expectRefused(await run(copy), /fleet\.db is empty \(0 bytes\): restore it from a backup; the manager does not take it for a new fleet \(to start over instead, move .* aside and start with --init\)/);
    expect(snapshot(copy)).toEqual(before);
  });

  it('refuses a fleet.db with damaged pages', async () => {
    const copy = copyOfState('corrupt-db');
    const file = join(copy, 'fleet.db');
    const fd = openSync(file, 'r+');
    writeSync(fd, randomBytes(16384), 0, 16384, Math.floor(statSync(file).size / 2 / 4096) * 4096);
    closeSync(fd);
    expectRefused(await run(copy), /fleet\.db failed its integrity check \(.+\): restore it from a backup/);
    expect(existsSync(join(copy, 'fleet.db'))).toBe(true);
  });

  it('refuses a missing fleet.db beside the CA, tokens and key', async () => {
    const copy = copyOfState('missing-db');
    for (const file of ['fleet.db', 'fleet.db-wal', 'fleet.db-shm']) rmSync(join(copy, file), { force: true });
    const before = snapshot(copy);
    expectRefused(await run(copy), /fleet\.db is missing, but .* holds manager state \(.*pki.*\): restore fleet\.db from a backup/);
    expect(snapshot(copy)).toEqual(before);
  });
});

describe('a fleet whose CA is gone', () => {
  beforeAll(() => manager.stop());
  afterAll(() => manager.start());

  it('refuses to start (a new CA would cut every agent off), writing nothing', async () => {
    const copy = copyOfState('no-pki');
    rmSync(join(copy, 'pki'), { recursive: true });
    const before = snapshot(copy);
    expectRefused(await run(copy), new RegExp(`${copy}/pki is missing, but ${copy} holds a fleet: restore pki/ \\(ca\\.crt and ca\\.key\\) from a backup; a new CA would make every agent refuse this manager`));
    expect(snapshot(copy)).toEqual(before);
    expect(existsSync(join(copy, 'pki'))).toBe(false);
  });

  it('refuses a pki/ without its key too', async () => {
    const copy = copyOfState('no-ca-key');
    rmSync(join(copy, 'pki', 'ca.key'));
    expectRefused(await run(copy), /pki lacks ca\.crt or ca\.key, but .* holds a fleet: restore pki\//);
    expect(existsSync(join(copy, 'pki', 'ca.key'))).toBe(false);
  });
});

describe('an --init cut short by kill -9', () => {
  it.each(['database', 'ca'])('after its %s step: refused without --init (saying so), finished by another --init', async (step) => {
    const dataDir = join(dir, `init-killed-after-${step}`);
    const killed = await run(dataDir, ['--init'], { METALFLEET_TEST_HOOK_INIT_KILL_AFTER: step });
    expect(killed.signal).toBe('SIGKILL');
    expect(existsSync(join(dataDir, 'fleet.db'))).toBe(true);
    expect(existsSync(join(dataDir, 'admin-token'))).toBe(false);
    const before = snapshot(dataDir);
    expectRefused(await run(dataDir), new RegExp(`an --init of ${dataDir} was cut short \\(${dataDir}/init-incomplete is there; it holds fleet\\.db.*\\): start with --init again to finish it`));
    expect(snapshot(dataDir)).toEqual(before);
    // Another --init finishes it (ManagerProcess's first start passes --init), and later starts need none.
    const finished = new ManagerProcess(dataDir);
    await finished.start();
    const admin = finished.adminToken;
    expect((await finished.nodes()).items).toEqual([]);
    await finished.stop();
    expect(existsSync(join(dataDir, 'init-incomplete'))).toBe(false);
    await finished.start();
    expect(finished.adminToken).toBe(admin);
    await finished.stop();
  }, 120_000);
});
