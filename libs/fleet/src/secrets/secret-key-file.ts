// The key that seals stored secrets, in a file of its own (mode 600), apart
// from the database: a copy of fleet.db or of its backups does not carry it.
import { chmodSync, closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { SecretBoxError, aesGcmSecretBox, type SecretBox } from './secret-box.ts';

export function secretKeyFileExists(file: string): boolean {
  return existsSync(file);
}

/** The box of the key in `file`, created (32 random bytes, base64, mode 600) when there is none and `mayCreate`. */
export function openSecretKeyFile(file: string, options: { mayCreate: boolean }): { box: SecretBox; created: boolean } {
  // An empty file is what a start killed while writing the key leaves behind; with nothing sealed yet it is replaced.
  if (existsSync(file) && options.mayCreate && statSync(file).size === 0) unlinkSync(file);
  if (!existsSync(file)) {
    if (!options.mayCreate) throw new SecretBoxError('secret-key-missing', `no secret key file ${file}`);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeKeyDurably(file, `${randomBytes(32).toString('base64')}\n`);
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

/**
 * Writes the key to a temporary file, flushes it to disk, then links it into place and flushes the directory:
 * the key is on disk before anything is sealed with it, a crash leaves either no key file or the whole key, and
 * the link fails if another manager created the file first (two managers never overwrite each other's key).
 */
function writeKeyDurably(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temporary, file);
  } finally {
    unlinkSync(temporary);
  }
  const dir = openSync(dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
