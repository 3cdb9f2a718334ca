// The agent as it ships to nodes: the bundle deploy/ installs and the way
// deploy/ starts it, which is what `npm run bench` measures.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const agentDir = fileURLToPath(new URL('../', import.meta.url));
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(agentDir, 'package.json'), 'utf8')) as {
  version: string;
  metalfleet: { nodeOptions: string; env: Record<string, string> };
};
const { nodeOptions, env } = pkg.metalfleet;

describe('the shipped agent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mf-agent-bundle-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is one pure-ASCII file (one non-ASCII character makes Node hold the whole source as UTF-16)', () => {
    const file = join(dir, 'metalfleet-agent.mjs');
    execFileSync(process.execPath, [join(agentDir, 'bundle.mjs'), file]);
    const bytes = readFileSync(file);
    const firstNonAscii = bytes.findIndex((b) => b > 0x7f);
    expect(firstNonAscii === -1 ? '' : bytes.subarray(Math.max(0, firstNonAscii - 40), firstNonAscii + 20).toString('utf8')).toBe('');
    expect(execFileSync(process.execPath, [...nodeOptions.split(' '), file, '--version'], { encoding: 'utf8' }).trim()).toBe(pkg.version);
  }, 60_000);

  it('is started by the systemd unit with the Node options and environment the bench measures', () => {
    const unit = readFileSync(join(repo, 'deploy/systemd/metalfleet-agent.service'), 'utf8');
    const execStart = unit.split('\n').find((line) => line.startsWith('ExecStart='));
    expect(execStart).toContain(`/usr/local/bin/node ${nodeOptions} /opt/metalfleet/metalfleet-agent.mjs run`);
    for (const [name, value] of Object.entries(env)) expect(unit.split('\n')).toContain(`Environment=${name}=${value}`);
  });

  it('is started by the PXE image\'s init with the same Node options and environment', () => {
    const init = readFileSync(join(repo, 'deploy/image/init'), 'utf8');
    const vars = Object.entries(env).map(([name, value]) => `${name}=${value}`).join(' ');
    expect(init).toContain(`${vars} /usr/local/bin/node ${nodeOptions} /opt/metalfleet/agent.mjs run`);
  });
});
