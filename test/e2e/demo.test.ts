// npm start (deploy/demo/start.ts) as a newcomer runs it, and the README's
// "Five minutes with the demo" command by command: the manager, then its
// simulated nodes once it is ready, a demo image, tenant and template to try,
// and alert rules that fire at 4 nodes. A second npm start in the same
// directory ends before any node of its own starts (its manager cannot have
// ./data), so the first demo's nodes are never knocked off; SIGINT to the demo's
// process alone stops the whole demo.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliBin, eventually, start, type Proc } from '../support/processes.ts';

const demo = join(import.meta.dirname, '..', '..', 'deploy', 'demo', 'start.ts');
const dir = mkdtempSync(join(tmpdir(), 'mf-demo-'));
const ports = ['--http-port', '0', '--grpc-port', '0', '--mqtt-port', '0', '--boot-port', '0'];
let first: Proc | null = null;
let manager = '';

afterAll(async () => {
  await first?.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Run { code: number; stdout: string; stderr: string }
/** `npx metalfleet …` as the README has it, in the demo's directory (the manager's URL from its ready line: ports are free ones here). */
function metalfleet(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliBin, ...args], { cwd: dir, env: { PATH: process.env['PATH'] ?? '', HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), METALFLEET_MANAGER: manager } },
      (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}
const ok = async (...args: string[]) => {
  const run = await metalfleet(...args);
  expect(run.code, `metalfleet ${args.join(' ')}: ${run.stderr}`).toBe(0);
  return run.stdout;
};
const demoNodes = async () => (await ok('nodes', 'ls', '--tenant', 'demo')).split('\n').slice(1).filter((l) => l.trim() !== '')
  .map((l) => { const [id, hostname, presence, state] = l.split(/\s+/); return { id: id ?? '', hostname: hostname ?? '', presence, state }; });
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

describe('npm start and the README\'s five minutes', () => {
  it('starts the manager, then its four nodes, with an image, a tenant and a template to try', async () => {
    first = start(demo, ports, [], {}, { cwd: dir });
    // The demo prefixes each line with whose it is: `manager | {…}`.
    const line = await eventually(async () => first!.lines.find((l) => l.startsWith('manager') && l.includes('"manager ready"')), (l) => l !== undefined, 60_000);
    manager = String((JSON.parse(line!.slice(line!.indexOf('{'))) as { http: string }).http);
    await eventually(async () => first!.lines.some((l) => l.includes('made image demo-os@1.0, tenant demo and its template demo-train')), (made) => made, 30_000);
    expect(await metalfleet('--token', readFileSync(join(dir, 'data', 'admin-token'), 'utf8').trim(), '--ca-file', join(dir, 'data', 'pki', 'ca.crt'), 'login'))
      .toMatchObject({ code: 0, stdout: expect.stringContaining(`logged in to ${manager}`) });
    const listed = await eventually(() => ok('nodes', 'ls'), (out) => (out.match(/\savailable\s/g) ?? []).length === 4, 60_000);
    expect(listed).toMatch(/^\S+\s+sim-001\s+online\s+available\s/m);
  }, 120_000);

  it('applies the template, fails a GPU of a tenant\'s node: the alert fires and a spare takes its place; reimages a node by name', async () => {
    await ok('templates', 'apply', 'demo-train', '--wait');
    const members = await demoNodes();
    expect(members.map((n) => n.state)).toEqual(['active', 'active']);
    const victim = members[0]!;
    writeFileSync(join(dir, 'data', 'faults.json'), JSON.stringify({ [Number(victim.hostname.replace('sim-', ''))]: ['xid79-fallen-off-bus'] }));
    await eventually(() => ok('alerts', '--state', 'firing'), (out) => /pool-failure-rate/.test(out), 60_000);
    // Replaced: the victim out of the tenant, a spare reimaged in.
    const replaced = await eventually(demoNodes, (nodes) => nodes.length === 2 && !nodes.some((n) => n.id === victim.id) && nodes.every((n) => n.state === 'active'), 90_000);
    expect(await ok('operations', 'ls')).toMatch(/\sreplace-node\s+succeeded\s+demo-os@1\.0\s/);
    writeFileSync(join(dir, 'data', 'faults.json'), '{}');
    const stays = replaced.find((n) => n.id !== victim.id)!;
    expect(await ok('nodes', 'reimage', stays.hostname, '--image', 'demo-os@1.0', '--wait')).toMatch(/^operation \S+ succeeded: 1 done, 0 failed of 1$/m);
  }, 240_000);

  it('a second npm start starts no node; SIGINT to the first stops it all', async () => {
    const second = start(demo, ports, [], {}, { cwd: dir });
    expect(await second.exited).toBe(2);
    expect(second.lines.join('\n')).toContain('is in use by another manager');
    expect(second.lines).toContain('demo: the manager did not start (exit 2); no simulated node was started');
    expect(second.lines.some((l) => l.startsWith('fleet'))).toBe(false);

    const children = [...pidsIn(first!.lines, 'manager'), ...pidsIn(first!.lines, 'fleet')];
    expect(children).toHaveLength(2);
    first!.child.kill('SIGINT');
    expect(await first!.exited).toBe(0);
    expect(children.filter(alive)).toEqual([]);
  }, 60_000);
});
