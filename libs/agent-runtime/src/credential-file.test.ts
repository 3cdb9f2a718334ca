import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCredential, writeCredential } from './credential-file.ts';

describe('credential file', () => {
  it('keeps the node credential readable only by its owner, replacing the old one whole', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-cred-'));
    expect(readCredential(dir)).toBeNull();
    writeCredential(dir, { nodeId: 'n1', credential: 'secret-1' });
    writeCredential(dir, { nodeId: 'n1', credential: 'secret-2' });
    expect(readCredential(dir)).toEqual({ nodeId: 'n1', credential: 'secret-2' });
    expect(statSync(join(dir, 'credential.json')).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['credential.json']);
  });

  it('treats a damaged file as no credential (the agent then registers with its token)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-cred-'));
    writeFileSync(join(dir, 'credential.json'), '{"nodeId":"n1","cred');
    expect(existsSync(join(dir, 'credential.json'))).toBe(true);
    expect(readCredential(dir)).toBeNull();
  });
});
