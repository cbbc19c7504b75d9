import { createHmac } from 'node:crypto';
import type { HmacSha256 } from '@entrada/core';

/**
 * Native HMAC-SHA256 (OpenSSL) for core's `codeDigest`: hashes the string as
 * UTF-8 without copying it to bytes first. Byte-identical to core's pure one
 * (`test/code-digest.test.ts`).
 */
export const nodeHmacSha256: HmacSha256 = (key, text) => createHmac('sha256', key).update(text, 'utf8').digest();
