// The project pins its runtime: every npm script runs Node 24 from the `node`
// devDependency, whatever Node the machine ships.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);

describe('runtime', () => {
  it('runs the tests on Node 24, as .nvmrc and engines say', () => {
    expect(process.versions.node.split('.')[0]).toBe('24');
    expect(readFileSync(new URL('.nvmrc', root), 'utf8').trim()).toBe('24');
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toMatch(/^>=24 <25$/);
  });
});
