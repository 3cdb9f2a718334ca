// The systemd units in deploy/systemd parse as systemd reads them: every
// section and key known, every value valid. The programs they start are not
// installed here, so that one complaint is the only one allowed.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const unitsDir = resolve(import.meta.dirname, '..', '..', 'deploy', 'systemd');

describe('deploy/systemd units', () => {
  const units = readdirSync(unitsDir).filter((f) => f.endsWith('.service'));

  it('ships the manager and the agent', () => {
    expect(units.sort()).toEqual(['metalfleet-agent.service', 'metalfleet-manager.service']);
  });

  it.each(units)('%s passes systemd-analyze verify', (unit) => {
    const result = spawnSync('systemd-analyze', ['verify', '--man=no', join(unitsDir, unit)], { encoding: 'utf8' });
    const complaints = `${result.stdout}${result.stderr}`.split('\n').filter((l) => l.trim() !== '' && !/Command \S+ is not executable: No such file or directory/.test(l));
    expect(complaints).toEqual([]);
  });
});
