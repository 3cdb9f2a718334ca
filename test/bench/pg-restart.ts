// npm run bench (part): how long the manager takes to serve again after its
// PostgreSQL restarts. A private cluster (its own port and directory), the real
// manager on it; per round: `pg_ctl restart -m fast`, then the time until /readyz
// answers 200 and a write (POST /api/v1/tenants) succeeds, counted from the
// moment the server accepts connections again (pg_ctl -w returns) and in all.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagerProcess, measuredWithoutAcceptance } from '../support/manager.ts';
import { PrivatePostgres } from '../support/postgres.ts';

const rounds = 5;

async function until(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (performance.now() > end) throw new Error(`not recovered within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function runPgRestartBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mf-bench-pg-restart-'));
  const postgres = new PrivatePostgres();
  let manager: ManagerProcess | null = null;
  try {
    await postgres.init();
    // The URL holds the cluster's port, known once it runs.
    manager = new ManagerProcess(join(dir, 'manager'), [...measuredWithoutAcceptance, '--postgres-url', postgres.url]);
    await manager.start();
    const m = manager;
    const write = async (name: string) => (await fetch(`${m.http}/api/v1/tenants`, {
      method: 'POST', headers: m.auth({ 'content-type': 'application/json' }), body: JSON.stringify({ name }),
    })).status === 201;
    const ready = async () => (await fetch(`${m.http}/readyz`)).status === 200;
    const fromUp: number[] = [];
    const total: number[] = [];
    for (let i = 0; i < rounds; i += 1) {
      await until(() => write(`warm-${i}`));
      const t0 = performance.now();
      await postgres.restart();
      const up = performance.now();
      await until(ready);
      await until(() => write(`round-${i}`));
      const t1 = performance.now();
      if (m.proc?.child.exitCode !== null) throw new Error('the manager exited during a PostgreSQL restart');
      fromUp.push(t1 - up);
      total.push(t1 - t0);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
    console.log(`PostgreSQL restart (pg_ctl restart -m fast), ${rounds} rounds: manager ready and writing ${median(fromUp).toFixed(0)} ms (median; max ${Math.max(...fromUp).toFixed(0)} ms) after the server accepts connections, ${median(total).toFixed(0)} ms after the restart began; the manager stayed up`);
  } finally {
    await manager?.stop();
    await postgres.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
