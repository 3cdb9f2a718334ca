// npm start (deploy/demo/start.ts) as a newcomer runs it: the manager, then its
// simulated nodes once it is ready. A second npm start in the same directory
// ends before any node of its own starts (its manager cannot have ./data), so
// the first demo's nodes are never knocked off; SIGINT to the demo's process
// alone stops the whole demo.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, start, type Proc } from '../support/processes.ts';

const demo = join(import.meta.dirname, '..', '..', 'deploy', 'demo', 'start.ts');
const dir = mkdtempSync(join(tmpdir(), 'mf-demo-'));
const ports = ['--http-port', '0', '--grpc-port', '0', '--mqtt-port', '0', '--boot-port', '0'];
let first: Proc | null = null;

afterAll(async () => {
  await first?.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const pidsIn = (lines: string[], name: string) => new Set(lines.flatMap((l) => {
  const match = new RegExp(`^${name} +\\| \\{.*"pid":(\\d+)`).exec(l);
  return match ? [Number(match[1])] : [];
}));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start', () => {
  it('starts the manager, then its four nodes; a second demo starts no node; SIGINT stops it all', async () => {
    first = start(demo, ports, [], {}, { cwd: dir });
    await eventually(async () => first!.lines.filter((l) => l.includes('registered as a new node')).length, (n) => n === 4, 60_000);
    expect(readFileSync(join(dir, 'data', 'admin-token'), 'utf8')).toMatch(/^mfat\./);

    const second = start(demo, ports, [], {}, { cwd: dir });
    const code = await second.exited;
    expect(code).toBe(2);
    expect(second.lines.join('\n')).toContain('is in use by another manager');
    expect(second.lines).toContain('demo: the manager did not start (exit 2); no simulated node was started');
    expect(second.lines.some((l) => l.startsWith('fleet'))).toBe(false);

    const children = [...pidsIn(first.lines, 'manager'), ...pidsIn(first.lines, 'fleet')];
    expect(children).toHaveLength(2);
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    expect(children.filter(alive)).toEqual([]);
  }, 120_000);
});
