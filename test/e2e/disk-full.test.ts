// The manager on a full disk: its data directory is on a small tmpfs of its own that
// the test fills up. The process lives (/healthz 200), /readyz and writes answer 503
// naming the disk, the log says so once (not "cannot rollback", not a line per
// request), /metrics shows it; once space is freed everything works again without a
// restart, and nothing acknowledged before is gone. Needs root (mount -t tmpfs).
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagerProcess } from '../support/manager.ts';
import { agentBin, eventually, start, type Proc } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-disk-full-'));
const disk = join(dir, 'disk');
const filler = join(disk, 'filler');
let mounted = false;
let manager: ManagerProcess;
let agents: Proc | undefined;

beforeAll(async () => {
  mkdirSync(disk);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m,mode=0700', 'tmpfs', disk], { stdio: 'pipe' });
    mounted = true;
  } catch (error) {
    throw new Error(`this test needs a tmpfs of its own (run it as root, or where mount -t tmpfs is allowed): ${(error as Error).message}`);
  }
  manager = new ManagerProcess(join(disk, 'manager'));
  await manager.start();
  agents = start(agentBin, ['--manager', manager.grpc, '--bootstrap-token-file', manager.tokenFile, '--simulate', '2', '--state-dir', join(dir, 'agents'),
    '--retry-initial-ms', '200', '--retry-max-ms', '500', '--kernel-cmdline', '/nonexistent']);
  await eventually(() => manager.nodes(), (l) => l.items.length === 2 && l.items.every((n) => n.presence === 'online'), 60_000);
}, 120_000);

afterAll(async () => {
  await agents?.stop('SIGKILL');
  await manager?.stop();
  if (mounted) execFileSync('umount', [disk]);
  rmSync(dir, { recursive: true, force: true });
});

/** Writes into `filler` until the file system has no byte left. */
function fillDisk(): void {
  const fd = openSync(filler, 'w');
  try {
    for (const size of [1024 * 1024, 4096, 1]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

async function call(path: string, init: RequestInit = {}): Promise<{ status: number; retryAfter: string | null; body: Record<string, unknown> }> {
  const child = manager.proc!.child;
  if (child.exitCode !== null || child.signalCode !== null) throw new Error(`manager exited; output:\n${manager.proc!.lines.slice(-30).join('\n')}`);
  const response = await fetch(`${manager.http}${path}`, { ...init, headers: manager.auth(init.body ? { 'content-type': 'application/json' } : {}) });
  const text = await response.text();
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: text.startsWith('{') ? JSON.parse(text) as Record<string, unknown> : { text } };
}

const createTenant = (name: string) => call('/api/v1/tenants', { method: 'POST', body: JSON.stringify({ name }) });
const tenantNames = async () => ((await call('/api/v1/tenants')).body['items'] as Array<{ name: string }>).map((t) => t.name).sort();
const logLines = (pattern: RegExp) => manager.proc!.lines.filter((line) => pattern.test(line));

describe('manager whose disk fills up', () => {
  it('names the full disk (503, /readyz, log once, metrics), stays alive, and works again once space is freed', async () => {
    expect((await createTenant('before-full')).status).toBe(201);
    const dataDir = join(disk, 'manager');
    fillDisk();

    // The first writes may still land in space SQLite already holds; the first one that needs more fails, and so do the next.
    const acknowledged = ['before-full'];
    const refused: Array<Awaited<ReturnType<typeof createTenant>>> = [];
    for (let i = 0; i < 100 && refused.length < 5; i += 1) {
      const answer = await createTenant(`during-${i}`);
      if (answer.status === 201) acknowledged.push(`during-${i}`);
      else refused.push(answer);
    }
    expect(refused.length).toBe(5);
    for (const answer of refused) {
      expect(answer).toEqual({ status: 503, retryAfter: '5', body: { error: { code: 'unavailable', message: `the manager's disk is full: ${dataDir}; retry later` } } });
    }

    const notReady = await call('/readyz');
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatchObject({ status: 'not-ready', checks: { store: { ready: false, problem: 'disk-full', message: `the manager's disk is full: ${dataDir}` }, broker: { ready: true } } });
    expect((await call('/healthz')).status).toBe(200);
    const metrics = String((await call('/metrics')).body['text']);
    expect(metrics).toMatch(/^metalfleet_store_writable 0$/m);
    // The refused calls and their audit entries.
    expect(Number(/^metalfleet_store_errors_total\{reason="disk-full"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(refused.length);

    // One line for the episode, with the data directory and the space left; nothing about a failed rollback.
    const episode = logLines(/the manager's disk is full/).map((line) => JSON.parse(line) as Record<string, unknown>).filter((e) => e['level'] === 50);
    expect(episode).toHaveLength(1);
    expect(episode[0]).toMatchObject({ problem: 'disk-full', dataDir, freeBytes: expect.any(Number) });
    expect(logLines(/cannot rollback/)).toEqual([]);
    expect(logLines(/"msg":"request failed"/).filter((line) => line.includes('"level":50'))).toEqual([]);

    rmSync(filler);
    const ready = await eventually(() => call('/readyz'), (r) => r.status === 200, 30_000);
    expect(ready.body).toMatchObject({ status: 'ready', checks: { store: { ready: true, message: '' } } });
    await manager.proc!.waitForLog('fleet store can write again; ready');
    expect((await createTenant('after-full')).status).toBe(201);
    expect(await tenantNames()).toEqual([...acknowledged, 'after-full'].sort());
    expect(String((await call('/metrics')).body['text'])).toMatch(/^metalfleet_store_writable 1$/m);
    // The nodes are still registered, and online (their reports are stored again).
    await eventually(() => manager.nodes(), (l) => l.items.length === 2 && l.items.every((n) => n.presence === 'online'));
    expect((await call('/healthz')).status).toBe(200);
  });
});
