// The key that seals stored secrets, in a file of its own (mode 600), apart
// from the database: a copy of fleet.db or of its backups does not carry it.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { SecretBoxError, aesGcmSecretBox, type SecretBox } from './secret-box.ts';

export function secretKeyFileExists(file: string): boolean {
  return existsSync(file);
}

/** The box of the key in `file`, created (32 random bytes, base64, mode 600) when there is none and `mayCreate`. */
export function openSecretKeyFile(file: string, options: { mayCreate: boolean }): { box: SecretBox; created: boolean } {
  if (!existsSync(file)) {
    if (!options.mayCreate) throw new SecretBoxError('secret-key-missing', `no secret key file ${file}`);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // 'wx': two managers starting at once never overwrite each other's key.
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    return { box: readKey(file), created: true };
  }
  // Readable by others is fixed, not trusted: the key is only as private as its file.
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return { box: readKey(file), created: false };
}

function readKey(file: string): SecretBox {
  const text = readFileSync(file, 'utf8').trim();
  const key = Buffer.from(text, 'base64');
  if (key.length !== 32 || key.toString('base64') !== text) throw new SecretBoxError('secret-key-unreadable', `secret key file ${file} does not hold a 32-byte key in base64`);
  return aesGcmSecretBox(key);
}
