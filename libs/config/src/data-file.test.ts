import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Type } from 'typebox';
import { loadDataFile } from './data-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'mf-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const schema = Type.Array(Type.Object({ name: Type.String(), threshold: Type.Optional(Type.Number()) }, { additionalProperties: false }));
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

describe('loadDataFile', () => {
  it('reads YAML and JSON', () => {
    expect(loadDataFile(file('a.yaml', '- name: pool\n  threshold: 0.1\n'), schema)).toEqual([{ name: 'pool', threshold: 0.1 }]);
    expect(loadDataFile(file('a.json', '[{"name":"x"}]'), schema)).toEqual([{ name: 'x' }]);
  });

  it('names where each problem is; a missing or broken file says so', () => {
    expect(() => loadDataFile(file('b.yaml', '- name: pool\n  threshold: high\n- nam: x\n'), schema)).toThrow(/b\.yaml: \/0\/threshold: must be number[\s\S]*\/1: must have required properties? name/);
    expect(() => loadDataFile(join(dir, 'none.yaml'), schema)).toThrow(/none\.yaml: ENOENT/);
    expect(() => loadDataFile(file('c.yaml', '- [unclosed'), schema)).toThrow(/c\.yaml: /);
  });
});
