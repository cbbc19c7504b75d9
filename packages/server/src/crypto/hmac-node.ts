import { createHmac, hash } from 'node:crypto';
import type { HmacSha256 } from '@entrada/core';

/**
 * Native HMAC-SHA256 (OpenSSL) for core's `codeDigest`: hashes the string as
 * UTF-8 without copying it to bytes first. Byte-identical to core's pure one
 * (`test/code-digest.test.ts`).
 */
export const nodeHmacSha256: HmacSha256 = (key, text) => createHmac('sha256', key).update(text, 'utf8').digest();

/**
 * HMAC-SHA256 under one key, as lowercase hex: RFC 2104's H((K ⊕ opad) ‖
 * H((K ⊕ ipad) ‖ text)) from two native one-shot hashes over blocks padded
 * once for the key. createHmac sets the key up again for every text and hands
 * back a Buffer (an ArrayBuffer of its own): ~2.2 µs per code against ~0.95
 * here, and a sync upload keys every code it carries. The same bytes as
 * nodeHmacSha256 (`test/code-digest.test.ts`). Not reentrant, and it needs
 * not be: hashing is synchronous.
 */
export function hmacSha256Hex(key: Uint8Array): (text: string) => string {
  // A key longer than the block is hashed first (RFC 2104 §2); a shorter one is padded with zeros.
  const block = key.length > 64 ? hash('sha256', key, 'buffer') : key;
  let inner = Buffer.alloc(64 + 256);
  const outer = Buffer.alloc(64 + 32);
  for (let i = 0; i < 64; i++) {
    const k = block[i] ?? 0;
    inner[i] = k ^ 0x36;
    outer[i] = k ^ 0x5c;
  }
  return (text) => {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8; write() would cut a text that does not fit.
    if (inner.length < 64 + text.length * 3) {
      const bigger = Buffer.alloc(64 + text.length * 3);
      inner.copy(bigger, 0, 0, 64);
      inner = bigger;
    }
    const n = inner.write(text, 64, 'utf8');
    outer.write(hash('sha256', inner.subarray(0, 64 + n), 'hex'), 64, 32, 'hex');
    return hash('sha256', outer, 'hex');
  };
}
