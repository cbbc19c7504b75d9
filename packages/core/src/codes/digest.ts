import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';

/** 128 bits keeps collisions out of reach for any event's ticket count while halving storage. */
export const CODE_DIGEST_LENGTH = 16;

const utf8 = new TextEncoder();

/**
 * Keyed digest of a ticket code, so code lists can be stored and matched on scanners
 * without revealing the codes themselves to whoever reads the device.
 */
export function codeDigest(key: Uint8Array, code: string): Uint8Array {
  return hmac(sha256, key, utf8.encode(code)).slice(0, CODE_DIGEST_LENGTH);
}
