// Secrets kept at rest (BMC passwords) are sealed with a key that is not in
// the database: whoever copies fleet.db, or reads it through a backup, gets
// ciphertext. One small interface, so a KMS or Vault transit key can replace
// the key file: seal, open, and the id of the key in use.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export interface SecretBox {
  /** Which key seals: the envelope names it, so a wrong key is told apart from a damaged secret. */
  readonly keyId: string;
  /** An envelope (`mfsec1.<keyId>.<base64url iv|tag|ciphertext>`) that only this key opens; `context` is bound to it (not stored). */
  seal(plaintext: string, context: string): Promise<string>;
  /** The plaintext; throws SecretBoxError when the key or the context is not the one it was sealed with. */
  open(envelope: string, context: string): Promise<string>;
}

export type SecretBoxErrorCode = 'secret-key-missing' | 'secret-key-wrong' | 'secret-damaged' | 'secret-key-unreadable';

/** Why sealed secrets cannot be opened: the manager refuses to start on these. */
export class SecretBoxError extends Error {
  readonly code: SecretBoxErrorCode;

  constructor(code: SecretBoxErrorCode, message: string) {
    super(message);
    this.name = 'SecretBoxError';
    this.code = code;
  }
}

const prefix = 'mfsec1.';
const ivBytes = 12;
const tagBytes = 16;

export function isSealed(value: string): boolean {
  return value.startsWith(prefix);
}

/** The id of the key that sealed `envelope`. */
export function sealedKeyId(envelope: string): string {
  return envelope.slice(prefix.length).split('.')[0] ?? '';
}

export function secretKeyId(key: Buffer): string {
  return createHash('sha256').update('metalfleet secret key id\0').update(key).digest('hex').slice(0, 16);
}

/** AES-256-GCM with a random 96-bit IV per secret; the key id and the context are authenticated data. */
export function aesGcmSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new SecretBoxError('secret-key-unreadable', `a secret key is 32 bytes, this one is ${key.length}`);
  const keyId = secretKeyId(key);
  const aad = (context: string) => Buffer.from(`${prefix}${keyId}\0${context}`);
  return {
    keyId,
    async seal(plaintext, context) {
      const iv = randomBytes(ivBytes);
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(aad(context));
      const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return `${prefix}${keyId}.${Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url')}`;
    },
    async open(envelope, context) {
      if (!isSealed(envelope)) throw new SecretBoxError('secret-damaged', 'not a sealed secret');
      const [id = '', body = ''] = envelope.slice(prefix.length).split('.');
      if (id !== keyId) throw new SecretBoxError('secret-key-wrong', `sealed with key ${id}, the key in use is ${keyId}`);
      const bytes = Buffer.from(body, 'base64url');
      if (bytes.length < ivBytes + tagBytes) throw new SecretBoxError('secret-damaged', 'sealed secret too short');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, ivBytes)).setAAD(aad(context)).setAuthTag(bytes.subarray(ivBytes, ivBytes + tagBytes));
        return Buffer.concat([decipher.update(bytes.subarray(ivBytes + tagBytes)), decipher.final()]).toString('utf8');
      } catch {
        throw new SecretBoxError('secret-damaged', `sealed secret (key ${keyId}) does not authenticate: changed in the database, or moved to another record`);
      }
    },
  };
}
