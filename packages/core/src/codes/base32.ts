// RFC 4648 base32 (A-Z2-7) without padding. Chosen for ticket codes because its alphabet is
// a subset of QR alphanumeric mode (a denser QR than base64 in byte mode), it survives case
// changes by keyboard-wedge scanners, and it has no characters that trimming would eat.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

const DECODE_TABLE: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) {
    const upper = ALPHABET.charCodeAt(i);
    table[upper] = i;
    // Letters only: lower-casing a digit is a no-op.
    table[ALPHABET.toLowerCase().charCodeAt(i)] = i;
  }
  return table;
})();

const ALPHABET_CODES = Array.from(ALPHABET, (c) => c.charCodeAt(0));

export function encodeBase32(bytes: Uint8Array): string {
  // Character codes first, one string at the end: appending a character at a time allocated a
  // new string per character (about 4 KB of garbage per ticket code).
  const codes: number[] = new Array<number>(Math.ceil((bytes.length * 8) / 5));
  let n = 0;
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      codes[n++] = ALPHABET_CODES[(buffer >>> bits) & 31]!;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) codes[n++] = ALPHABET_CODES[(buffer << (5 - bits)) & 31]!;
  return String.fromCharCode(...codes);
}

/**
 * Case-insensitive decode. Returns null (never throws) on any character outside the
 * alphabet, on a length no byte string encodes to, and on non-zero padding bits: accepting
 * those would give one byte string several spellings.
 */
export function decodeBase32(text: string): Uint8Array | null {
  const remainder = text.length % 8;
  if (remainder === 1 || remainder === 3 || remainder === 6) return null;
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let written = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? DECODE_TABLE[code]! : -1;
    if (value < 0) return null;
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[written] = (buffer >>> bits) & 0xff;
      written += 1;
    }
    buffer &= (1 << bits) - 1;
  }
  if (buffer !== 0) return null;
  return out;
}
