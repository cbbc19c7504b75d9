// Thin wrapper over @noble/curves so the rest of Entrada depends on one small surface, with
// randomness passed in (core never reaches for a global RNG) and a verify that cannot throw.

import { ed25519 as noble } from '@noble/curves/ed25519.js';
import type { Verifier } from './types.ts';

const SECRET_KEY_LENGTH = 32;
const PUBLIC_KEY_LENGTH = 32;
const SIGNATURE_LENGTH = 64;

export interface Ed25519KeyPair {
  /** The 32-byte RFC 8032 seed. */
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

function generateKeyPair(randomBytes: (n: number) => Uint8Array): Ed25519KeyPair {
  const seed = randomBytes(SECRET_KEY_LENGTH);
  if (!(seed instanceof Uint8Array) || seed.length !== SECRET_KEY_LENGTH) {
    throw new RangeError(`randomBytes must return ${SECRET_KEY_LENGTH} bytes`);
  }
  // Copied so a caller reusing its random buffer cannot change the key afterwards.
  const secretKey = seed.slice();
  return { secretKey, publicKey: noble.getPublicKey(secretKey) };
}

function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  return noble.getPublicKey(secretKey);
}

function sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return noble.sign(message, secretKey);
}

const verify: Verifier = (publicKey, message, signature) => {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_LENGTH) return false;
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_LENGTH) return false;
  if (!(message instanceof Uint8Array)) return false;
  try {
    // Strict RFC 8032 decoding (not ZIP-215): only canonical encodings verify, so a valid
    // code cannot be re-spelled into a second valid code.
    return noble.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
};

export const ed25519: {
  generateKeyPair(randomBytes: (n: number) => Uint8Array): { secretKey: Uint8Array; publicKey: Uint8Array };
  publicKeyOf(secretKey: Uint8Array): Uint8Array;
  sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array;
  verify: Verifier;
} = Object.freeze({ generateKeyPair, publicKeyOf, sign, verify });
