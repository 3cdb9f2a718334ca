// A manager started before its PostgreSQL: it waits, one log line per attempt with the
// reason, and comes up once the server is there; when the server never comes it gives
// up after --store-connect-timeout-s with one clear line and exit status 1, no stack trace.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManagerProcess } from '../support/manager.ts';
import { PrivatePostgres } from '../support/postgres.ts';
import { freePort } from '../support/ports.ts';
import { managerBin } from '../support/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-pg-startup-'));
const postgres = new PrivatePostgres();
let manager: ManagerProcess | undefined;

afterAll(async () => {
  await manager?.stop();
  await postgres.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const retryLines = (lines: string[]) => lines.filter((line) => line.includes('PostgreSQL does not answer yet; retrying')).map((line) => JSON.parse(line) as Record<string, unknown>);

describe('manager started before PostgreSQL', () => {
  it('waits for the server, logging each attempt with its reason, and comes up once it answers', async () => {
    await postgres.create();
    manager = new ManagerProcess(join(dir, 'waits'), ['--postgres-url', postgres.url]);
    const started = manager.start();
    const proc = manager.proc!;
    await proc.waitForLog('PostgreSQL does not answer yet; retrying');
    await postgres.start();
    await started;
    const attempts = retryLines(proc.lines);
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts[0]).toMatchObject({ attempt: 1, reason: expect.stringMatching(/ECONNREFUSED/), timeoutS: 60 });
    expect(proc.lines.filter((line) => /^\s+at /.test(line))).toEqual([]);
    const tenant = await manager.request<{ name: string }>('POST', '/api/v1/tenants', { name: 'after-wait' });
    expect(tenant.name).toBe('after-wait');
    expect((await fetch(`${manager.http}/readyz`)).status).toBe(200);
  });

  it('gives up after --store-connect-timeout-s with one line and exit status 1 when the server never answers', async () => {
    const port = await freePort();
    const dataDir = join(dir, 'never');
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [managerBin, '--data-dir', dataDir, '--init', '--listen-host', '127.0.0.1', '--http-port', '0', '--grpc-port', '0', '--mqtt-port', '0',
        '--boot-port', '0', '--postgres-url', `postgresql://postgres@127.0.0.1:${port}/postgres`, '--store-connect-timeout-s', '2'], { timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }));
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^metalfleet-manager: PostgreSQL did not answer within \d+ s \(\d+ attempts, last: connect ECONNREFUSED 127\.0\.0\.1:\d+\); [^\n]+\n$/);
    expect(result.stdout + result.stderr).not.toMatch(/\n\s+at /);
    const attempts = retryLines(result.stdout.split('\n'));
    expect(attempts.length).toBeGreaterThan(1);
    expect(attempts.map((a) => a['attempt'])).toEqual(attempts.map((_, i) => i + 1));
  });
});
