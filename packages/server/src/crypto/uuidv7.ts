import { randomFillSync } from 'node:crypto';

/**
 * Time-ordered UUIDs (RFC 9562 version 7) for rows the server creates in
 * bursts. Random v4 keys land all over a B-tree, so every insert touches a
 * cold leaf page (and, after a checkpoint, logs a full-page image of it);
 * increasing keys append at the right edge, where PostgreSQL's rightmost-leaf
 * fast path skips the descent. Within one millisecond the 12-bit rand_a field
 * is a counter (RFC 9562 §6.2, method 1), so ids of one process increase
 * strictly; the 62 bits of rand_b stay random.
 */
const pool = Buffer.alloc(16 * 512);
let offset = pool.length;
let lastMs = 0;
let counter = 0;

export function uuidv7(now: number = Date.now()): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const b = pool.subarray(offset, offset + 16);
  offset += 16;
  let ms = now;
  if (ms > lastMs) {
    // A fresh millisecond: start the counter low (random) so it rarely overflows.
    counter = b[6]! & 0x07;
    counter = (counter << 8) | b[7]!;
  } else {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      ms++;
      counter = 0;
    }
  }
  lastMs = ms;
  b[0] = Math.floor(ms / 2 ** 40) & 0xff;
  b[1] = Math.floor(ms / 2 ** 32) & 0xff;
  b[2] = (ms >>> 24) & 0xff;
  b[3] = (ms >>> 16) & 0xff;
  b[4] = (ms >>> 8) & 0xff;
  b[5] = ms & 0xff;
  b[6] = 0x70 | (counter >>> 8);
  b[7] = counter & 0xff;
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
