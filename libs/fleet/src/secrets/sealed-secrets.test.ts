// BMC passwords at rest: sealed in the store with a key file kept apart,
// plaintext rows of an older manager sealed at start, and no start at all
// when sealed passwords exist that the key at hand cannot open.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { emptyInventory } from '@metalfleet/domain';
import { openSqliteFleetStore, type BmcConfig, type FleetStore } from '@metalfleet/store';
import { aesGcmSecretBox, isSealed, SecretBoxError } from './secret-box.ts';
import { openSealedSecrets } from './sealed-secrets.ts';

const bmc: BmcConfig = { driver: 'ipmi', address: '10.1.0.17', port: 623, username: 'admin', password: 'hunter2-bmc', cipherSuite: 3, https: false, insecureTls: false };
const at = new Date('2026-11-27T10:00:00Z');
let dir = '';
let raw: FleetStore;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mf-secrets-'));
  raw = openSqliteFleetStore({ path: join(dir, 'fleet.db') });
  await raw.createNode({ id: 'n1', hostname: 'h', identity: { systemUuid: 'u', systemSerial: '', chassisSerial: '', boardSerial: '', macs: ['aa:bb:cc:00:00:01'], bmcAddress: '' }, inventory: emptyInventory(), agentVersion: '1', credentialHash: 'h', at });
});

afterEach(async () => {
  await raw.close();
  rmSync(dir, { recursive: true, force: true });
});

const refusal = async (work: Promise<unknown>): Promise<[string, string] | null> => work.then(() => null, (error: unknown) => {
  if (error instanceof SecretBoxError) return [error.code, error.message];
  throw error;
});

describe('a secret box (AES-256-GCM)', () => {
  it('opens what it sealed, for the same context only; another key is told apart', async () => {
    const box = aesGcmSecretBox(Buffer.alloc(32, 1));
    // A password no base64url text holds by chance ("pw" was in about 1 % of envelopes: a flaky test).
    const sealed = await box.seal('pass word!', 'bmc a');
    expect(isSealed(sealed)).toBe(true);
    expect(sealed).not.toContain('pass word!');
    expect(await box.open(sealed, 'bmc a')).toBe('pass word!');
    expect((await refusal(box.open(sealed, 'bmc b')))?.[0]).toBe('secret-damaged');
    expect((await refusal(aesGcmSecretBox(Buffer.alloc(32, 2)).open(sealed, 'bmc a')))?.[0]).toBe('secret-key-wrong');
  });
});

describe('openSealedSecrets', () => {
  it('makes a key file of mode 600, seals plaintext passwords found at start and every one written after; the manager reads them back', async () => {
    await raw.setBmc('n1', bmc);
    await raw.putEnrollment({ mac: 'aa:bb:cc:00:00:09', bmc: { ...bmc, address: '10.1.0.18' }, createdAt: at, nodeId: null, claimedAt: null });
    const keyFile = join(dir, 'keys', 'secret.key');
    const opened = await openSealedSecrets(raw, keyFile);
    expect([opened.created, opened.sealedNow]).toEqual([true, 2]);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'keys')).mode & 0o777).toBe(0o700);
    expect((await raw.getBmc('n1'))?.password).toMatch(/^mfsec1\./);
    expect((await raw.listEnrollments())[0]?.bmc.password).toMatch(/^mfsec1\./);
    expect(await opened.store.getBmc('n1')).toEqual(bmc);
    await opened.store.setBmc('n1', { ...bmc, password: 'second' });
    expect((await raw.getBmc('n1'))?.password).not.toContain('second');
    expect((await opened.store.getBmc('n1'))?.password).toBe('second');
    expect((await opened.store.listEnrollments())[0]?.bmc.password).toBe('hunter2-bmc');
    expect((await opened.store.claimEnrollment(['aa:bb:cc:00:00:09'], 'n1', at))?.bmc.password).toBe('hunter2-bmc');
    // A second start with the same key: nothing left to seal.
    expect((await openSealedSecrets(raw, keyFile)).sealedNow).toBe(0);
  });

  it('refuses to start, and changes nothing, when sealed passwords exist and the key file is missing or another key', async () => {
    await raw.setBmc('n1', bmc);
    const keyFile = join(dir, 'secret.key');
    await openSealedSecrets(raw, keyFile);
    const key = readFileSync(keyFile);
    rmSync(keyFile);
    const missing = await refusal(openSealedSecrets(raw, keyFile));
    expect(missing?.[0]).toBe('secret-key-missing');
    expect(missing?.[1]).toContain(keyFile);
    expect(() => statSync(keyFile)).toThrow();
    writeFileSync(keyFile, `${Buffer.alloc(32, 7).toString('base64')}\n`, { mode: 0o600 });
    const wrong = await refusal(openSealedSecrets(raw, keyFile));
    expect(wrong?.[0]).toBe('secret-key-wrong');
    expect(wrong?.[1]).toContain('node n1\'s BMC');
    writeFileSync(keyFile, key);
    expect((await (await openSealedSecrets(raw, keyFile)).store.getBmc('n1'))?.password).toBe('hunter2-bmc');
  });

  it('replaces the empty key file a start killed while writing it leaves, while nothing is sealed; never once something is', async () => {
    const keyFile = join(dir, 'secret.key');
    writeFileSync(keyFile, '', { mode: 0o600 });
    await raw.setBmc('n1', bmc);
    const opened = await openSealedSecrets(raw, keyFile);
    expect(readFileSync(keyFile, 'utf8').trim()).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect((await opened.store.getBmc('n1'))?.password).toBe('hunter2-bmc');
    writeFileSync(keyFile, '');
    expect((await refusal(openSealedSecrets(raw, keyFile)))?.[0]).toBe('secret-key-unreadable');
  });

  it('purges the old plaintext at the next start when the start that resealed it died before its purge, and only then', async () => {
    await raw.setBmc('n1', bmc);
    const keyFile = join(dir, 'secret.key');
    const dying: FleetStore = { ...raw, purgeOverwrittenSecrets: () => Promise.reject(new Error('killed before the purge')) };
    await expect(openSealedSecrets(dying, keyFile)).rejects.toThrow('killed before the purge');
    expect(isSealed((await raw.getBmc('n1'))?.password ?? '')).toBe(true);
    let purges = 0;
    const counting: FleetStore = { ...raw, purgeOverwrittenSecrets: () => {
      purges += 1;
      return raw.purgeOverwrittenSecrets();
    } };
    await openSealedSecrets(counting, keyFile);
    await openSealedSecrets(counting, keyFile);
    expect(purges).toBe(1);
  });

  it('a sealed password moved to another BMC address in the database no longer opens', async () => {
    const opened = await openSealedSecrets(raw, join(dir, 'secret.key'));
    await opened.store.setBmc('n1', bmc);
    const sealed = await raw.getBmc('n1');
    await raw.setBmc('n1', { ...bmc, address: '203.0.113.9', password: sealed?.password ?? '' });
    expect((await refusal(opened.store.getBmc('n1')))?.[0]).toBe('secret-damaged');
  });
});
