import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';

/** 128 bits keeps collisions out of reach for any event's ticket count while halving storage. */
export const CODE_DIGEST_LENGTH = 16;

/**
 * HMAC-SHA256 of the UTF-8 encoding of `text` under `key` (all 32 bytes).
 * Injected so each runtime uses its fastest implementation: the server
 * passes node's `createHmac`, which hashes the string without copying it to
 * bytes first; browsers and tests use core's pure one. (WebCrypto's HMAC is
 * asynchronous, so it cannot serve the scanner's synchronous look-up.)
 */
export type HmacSha256 = (key: Uint8Array, text: string) => Uint8Array;

const utf8 = new TextEncoder();

/** Core's pure implementation (@noble/hashes). */
export const nobleHmacSha256: HmacSha256 = (key, text) => hmac(sha256, key, utf8.encode(text));

/**
 * Keyed digest of a ticket code, so code lists can be stored and matched on scanners
 * without revealing the codes themselves to whoever reads the device. The one
 * definition: the server's, the manifest's (its first bytes) and the device's
 * digests are all this function's.
 */
export function codeDigest(key: Uint8Array, code: string, mac: HmacSha256 = nobleHmacSha256): Uint8Array {
  return mac(key, code).subarray(0, CODE_DIGEST_LENGTH);
}
