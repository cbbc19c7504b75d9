/**
 * The keyed code digest has one definition, core's `codeDigest`, with the
 * HMAC injected: node's native one on the server, core's pure one on the
 * scanners. They must give the same bytes, or a device would not find the
 * tickets the server stored.
 */
import { createHmac, webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CODE_DIGEST_LENGTH, codeDigest, nobleHmacSha256, toHex } from '@entrada/core';
import { hmacSha256Hex, nodeHmacSha256 } from '../src/crypto/hmac-node.ts';

describe('codeDigest with an injected HMAC', () => {
  it("gives the same bytes with node's HMAC and core's pure one, for any key and any text", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.string({ unit: 'grapheme', maxLength: 300 }),
        (key, code) => {
          expect(toHex(codeDigest(key, code, nodeHmacSha256))).toBe(toHex(codeDigest(key, code, nobleHmacSha256)));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('is RFC 4231 test case 2 truncated to 16 bytes, with either HMAC', () => {
    const key = new TextEncoder().encode('Jefe');
    for (const mac of [nodeHmacSha256, nobleHmacSha256]) {
      expect(toHex(codeDigest(key, 'what do ya want for nothing?', mac))).toBe('5bdcc146bf60754e6a042426089575c7');
    }
  });

  it("matches WebCrypto's HMAC (what a browser has natively)", async () => {
    const key = new Uint8Array(32).fill(21);
    const cryptoKey = await webcrypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    for (const code of ['TK-0001', 'ENT-1234', 'é', 'e\u0301', '😀 ticket', 'X'.repeat(256)]) {
      const web = new Uint8Array(
        await webcrypto.subtle.sign('HMAC', cryptoKey, new TextEncoder().encode(code)),
      ).subarray(0, 16);
      expect(toHex(codeDigest(key, code, nodeHmacSha256))).toBe(toHex(web));
    }
  });

  it("gives createHmac's bytes as hex from the per-key HMAC (hmacSha256Hex), for any key length and any text", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 150 }),
        fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 400 }), fc.constantFrom('\ud800', 'a\udc00b', '')), {
          minLength: 1,
          maxLength: 5,
        }),
        (key, texts) => {
          // One keyed function for several texts in turn: its buffers are reused (and grown) between calls.
          const mac = hmacSha256Hex(key);
          for (const text of texts)
            expect(mac(text)).toBe(createHmac('sha256', key).update(text, 'utf8').digest('hex'));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('keys a code as codeDigest does, truncated (EventContext.digestHex)', () => {
    const key = new Uint8Array(32).fill(7);
    const mac = hmacSha256Hex(key);
    for (const code of ['TK-0001', 'EN1ABCDEF', 'é', '😀 ticket', 'X'.repeat(1000)])
      expect(mac(code).slice(0, CODE_DIGEST_LENGTH * 2)).toBe(toHex(codeDigest(key, code, nodeHmacSha256)));
  });
});
