// Unsigned LEB128 restricted to values that fit a JS number exactly. Arithmetic rather than
// bit operators because those truncate to 32-bit signed integers.

export function writeVarint(value: number, out: number[]): void {
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

export interface VarintRead {
  value: number;
  /** Offset of the first byte after the varint. */
  next: number;
}

/**
 * Reads one varint and returns null unless it is the unique minimal encoding of a value in
 * [min, max]. Rejecting overlong encodings is what gives every claim set exactly one frame,
 * so a modified frame can never re-encode the same claims.
 */
export function readVarint(bytes: Uint8Array, offset: number, min: number, max: number): VarintRead | null {
  let value = 0;
  let scale = 1;
  let pos = offset;
  for (;;) {
    if (pos >= bytes.length) return null;
    const byte = bytes[pos]!;
    pos += 1;
    value += (byte & 0x7f) * scale;
    if (value > max) return null;
    if ((byte & 0x80) === 0) {
      // A zero final group adds nothing: the same value has a shorter encoding.
      if (byte === 0 && pos - offset > 1) return null;
      if (value < min) return null;
      return { value, next: pos };
    }
    scale *= 0x80;
    // A minimal encoding ends with a non-zero group, which would be worth at least `scale`;
    // bailing out here also bounds the loop and keeps the arithmetic exact.
    if (scale > max) return null;
  }
}
