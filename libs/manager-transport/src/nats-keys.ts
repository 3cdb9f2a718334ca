// NATS nkeys (Ed25519) signed by Node's crypto. @nats-io/nkeys derives a key's
// public half from its seed again, in JavaScript (tweetnacl), on every
// getPublicKey(), getPrivateKey() and sign(): encoding one node's broker token
// did that about eight times, half of each replica's CPU in a registration
// storm (profiled: docs/scale.md). These pairs derive once, sign with OpenSSL,
// and read and write the same seeds and keys (nkeys' own codec).
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { fromPublic, NKeysError, NKeysErrorCode, Prefix, type KeyPair } from '@nats-io/nkeys';
import { Codec } from '@nats-io/nkeys/lib/codec.js';

/** PKCS #8 for an Ed25519 private key, up to its 32-byte seed (RFC 8410). */
const pkcs8Ed25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

function rawPublicKey(publicKey: KeyObject): Uint8Array {
  return Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
}

class NativeKeyPair implements KeyPair {
  private seed: Uint8Array | null;
  private readonly privateKey: KeyObject;
  private readonly publicKey: string;
  private readonly publicKeyObject: KeyObject;
  private readonly encodedPrivateKey: Uint8Array;

  constructor(seed: Uint8Array) {
    this.seed = seed;
    const { buf: raw, prefix } = Codec.decodeSeed(seed);
    this.privateKey = createPrivateKey({ key: Buffer.concat([pkcs8Ed25519, raw]), format: 'der', type: 'pkcs8' });
    this.publicKeyObject = createPublicKey(this.privateKey);
    const publicRaw = rawPublicKey(this.publicKeyObject);
    this.publicKey = new TextDecoder().decode(Codec.encode(prefix, publicRaw));
    this.encodedPrivateKey = Codec.encode(Prefix.Private, Buffer.concat([raw, publicRaw]));
  }

  /** The seed, or nkeys' ClearedPair error once cleared (as @nats-io/nkeys does). */
  private live(): Uint8Array {
    if (!this.seed) throw new NKeysError(NKeysErrorCode.ClearedPair);
    return this.seed;
  }

  getPublicKey(): string {
    this.live();
    return this.publicKey;
  }

  getPrivateKey(): Uint8Array {
    this.live();
    return this.encodedPrivateKey;
  }

  getSeed(): Uint8Array {
    return this.live();
  }

  sign(input: Uint8Array): Uint8Array {
    this.live();
    return sign(null, input, this.privateKey);
  }

  verify(input: Uint8Array, signature: Uint8Array): boolean {
    return verify(null, input, this.publicKeyObject, signature);
  }

  /** Zeroes the seed and refuses every use afterwards, as nkeys does (OpenSSL's copy in the KeyObject cannot be wiped). */
  clear(): void {
    if (!this.seed) return;
    this.seed.fill(0);
    this.encodedPrivateKey.fill(0);
    this.seed = null;
  }

  seal(): Uint8Array {
    throw new NKeysError(NKeysErrorCode.InvalidNKeyOperation);
  }

  open(): Uint8Array | null {
    throw new NKeysError(NKeysErrorCode.InvalidNKeyOperation);
  }
}

/** The key pair of an nkey seed ("S…"), signing with Node's crypto. */
export function keyPairOfSeed(seed: string): KeyPair {
  return new NativeKeyPair(new TextEncoder().encode(seed));
}

/** A new key pair of the given role (Prefix.Operator, Account or User), signing with Node's crypto. */
export function newKeyPair(role: Prefix): KeyPair {
  // An Ed25519 private key is any 32 random bytes (RFC 8032).
  return new NativeKeyPair(Codec.encodeSeed(role, randomBytes(32)));
}

/** A new user's public key only: for a bearer token, whose seed nobody keeps. */
export function newUserPublicKey(): KeyPair {
  const { publicKey } = generateKeyPairSync('ed25519');
  return fromPublic(new TextDecoder().decode(Codec.encode(Prefix.User, rawPublicKey(publicKey))));
}
