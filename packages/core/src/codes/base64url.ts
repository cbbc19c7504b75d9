// RFC 4648 §5 base64url without padding, implemented here rather than with atob/btoa so it
// behaves identically in every runtime and can reject non-canonical input.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const DECODE_TABLE: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i;
  return table;
})();

export function toBase64Url(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += ALPHABET[(buffer >>> bits) & 63];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (6 - bits)) & 63];
  return out;
}

/**
 * Strict: throws SyntaxError on padding, characters outside the url-safe alphabet, an
 * impossible length, or non-zero trailing bits, so each byte string has one spelling.
 */
export function fromBase64Url(text: string): Uint8Array {
  if (typeof text !== 'string' || text.length % 4 === 1) {
    throw new SyntaxError('base64url input must be a string whose length is not 1 mod 4');
  }
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  let buffer = 0;
  let bits = 0;
  let written = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? DECODE_TABLE[code]! : -1;
    if (value < 0) throw new SyntaxError(`invalid base64url character at offset ${i}`);
    buffer = (buffer << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[written] = (buffer >>> bits) & 0xff;
      written += 1;
    }
    buffer &= (1 << bits) - 1;
  }
  if (buffer !== 0) throw new SyntaxError('base64url input has non-zero trailing bits');
  return out;
}
