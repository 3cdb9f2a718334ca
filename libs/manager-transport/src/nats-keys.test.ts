import { describe, expect, it } from 'vitest';
import { createAccount, createOperator, createUser, fromSeed, Prefix } from '@nats-io/nkeys';
import { keyPairOfSeed, newKeyPair, newUserPublicKey } from './nats-keys.ts';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const message = new TextEncoder().encode('header.payload');

describe('nkeys signed by Node\'s crypto', () => {
  it.each([['operator', createOperator], ['account', createAccount], ['user', createUser]])(
    'reads an %s seed made by @nats-io/nkeys: the same public and private key, the same signatures (Ed25519 is deterministic)',
    (_role, create) => {
      const reference = create();
      const pair = keyPairOfSeed(text(reference.getSeed()));
      expect(pair.getPublicKey()).toBe(reference.getPublicKey());
      expect(text(pair.getPrivateKey())).toBe(text(reference.getPrivateKey()));
      expect(Buffer.from(pair.sign(message))).toEqual(Buffer.from(reference.sign(message)));
      expect(reference.verify(message, pair.sign(message))).toBe(true);
      expect(pair.verify(message, reference.sign(message))).toBe(true);
      expect(pair.verify(new TextEncoder().encode('tampered'), pair.sign(message))).toBe(false);
    },
  );

  it('makes seeds @nats-io/nkeys reads as the same key, of the role asked for', () => {
    for (const [role, letter] of [[Prefix.Operator, 'O'], [Prefix.Account, 'A'], [Prefix.User, 'U']] as const) {
      const pair = newKeyPair(role);
      const reference = fromSeed(pair.getSeed());
      expect(reference.getPublicKey()).toBe(pair.getPublicKey());
      expect(pair.getPublicKey().startsWith(letter)).toBe(true);
      expect(reference.verify(message, pair.sign(message))).toBe(true);
    }
    expect(text(newKeyPair(Prefix.Account).getSeed())).not.toBe(text(newKeyPair(Prefix.Account).getSeed()));
  });

  it('refuses every use once cleared, with nkeys\' own error, and zeroes its seed', () => {
    const pair = newKeyPair(Prefix.Account);
    const seed = pair.getSeed();
    pair.clear();
    expect(seed.every((b) => b === 0)).toBe(true);
    for (const use of [() => pair.getPublicKey(), () => pair.getSeed(), () => pair.getPrivateKey(), () => pair.sign(message)]) expect(use).toThrow('nkeys: pair is cleared');
  });

  it('makes a user\'s public key with no seed to keep', () => {
    const user = newUserPublicKey();
    expect(user.getPublicKey()).toMatch(/^U[A-Z2-7]{55}$/);
    expect(() => user.getSeed()).toThrow();
    expect(newUserPublicKey().getPublicKey()).not.toBe(user.getPublicKey());
  });
});
