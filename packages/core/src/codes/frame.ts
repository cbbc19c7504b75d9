/*
 * Wire format of Entrada-issued ticket codes, version 1.
 *
 *   offset  size    field
 *   ------  ------  -----------------------------------------------------------------------
 *   0       1       header = (version << 4) | flags
 *                     version (high nibble) = 1
 *                     flags bit 0 = validFrom present, bit 1 = validUntil present,
 *                     bits 2-3 must be 0
 *   1       1       keyId, 0..255 (which event signing key; lets keys rotate)
 *   2       1-5     eventRef      varint, 1..2^32-1
 *   ..      1-5     ticketSerial  varint, 1..2^32-1
 *   ..      1-3     typeRef       varint, 0..65535
 *   ..      1-5     validFrom     varint minutes since 2024-01-01T00:00Z, only if flag bit 0
 *   ..      1-5     validUntil    varint minutes since 2024-01-01T00:00Z, only if flag bit 1
 *   ..      64      Ed25519 signature; it must be the last 64 bytes (no trailing data)
 *
 *   varint = unsigned LEB128: 7 bits per byte, least significant group first, high bit set
 *   on every byte but the last. Only the minimal encoding is accepted, values outside the
 *   field's range are rejected, and validFrom may not exceed validUntil, so every claim set
 *   has exactly one frame. That is what makes any change to a frame either malformed or a
 *   different claim set that the original signature does not cover.
 *
 *   signed message = utf8("entrada/ticket/v1\n") || frame bytes before the signature
 *   (the domain prefix keeps these signatures from being replayable as any other message
 *   the event key might ever sign)
 *
 *   text = "EN" || base32(frame bytes)   (RFC 4648 alphabet, no padding, decoded
 *   case-insensitively, non-zero padding bits rejected)
 *
 * Sizes: the smallest frame is 69 bytes (113 characters of text); eventRef < 2^14,
 * ticketSerial < 2^21 and typeRef < 2^14 without a window stay within 73 bytes
 * (119 characters); the largest frame is 89 bytes (145 characters).
 */

import { claimsToFrameFields, frameFieldsToClaims, MAX_TYPE_REF, MAX_U32, MAX_VALIDITY_MINUTES } from './claims.ts';
import type { FrameFields } from './claims.ts';
import type { SignedTicketClaims } from './types.ts';
import { readVarint, writeVarint } from './varint.ts';

export const FRAME_VERSION = 1;
export const SIGNATURE_LENGTH = 64;
export const SIGNING_DOMAIN = 'entrada/ticket/v1\n';

const FLAG_VALID_FROM = 0b01;
const FLAG_VALID_UNTIL = 0b10;
const KNOWN_FLAGS = FLAG_VALID_FROM | FLAG_VALID_UNTIL;

const DOMAIN_BYTES = new TextEncoder().encode(SIGNING_DOMAIN);

/** The frame without its signature, i.e. what gets signed (after the domain prefix). Throws RangeError on out-of-range claims. */
export function encodeFrameBody(claims: SignedTicketClaims): Uint8Array {
  const fields = claimsToFrameFields(claims);
  const flags =
    (fields.validFromMinutes === null ? 0 : FLAG_VALID_FROM) |
    (fields.validUntilMinutes === null ? 0 : FLAG_VALID_UNTIL);
  const out: number[] = [(FRAME_VERSION << 4) | flags, fields.keyId];
  writeVarint(fields.eventRef, out);
  writeVarint(fields.ticketSerial, out);
  writeVarint(fields.typeRef, out);
  if (fields.validFromMinutes !== null) writeVarint(fields.validFromMinutes, out);
  if (fields.validUntilMinutes !== null) writeVarint(fields.validUntilMinutes, out);
  return Uint8Array.from(out);
}

export function signingMessage(body: Uint8Array): Uint8Array {
  const message = new Uint8Array(DOMAIN_BYTES.length + body.length);
  message.set(DOMAIN_BYTES, 0);
  message.set(body, DOMAIN_BYTES.length);
  return message;
}

/** Inverse of signingMessage; null when the domain prefix is missing. */
export function bodyOfSigningMessage(message: Uint8Array): Uint8Array | null {
  if (message.length < DOMAIN_BYTES.length) return null;
  for (let i = 0; i < DOMAIN_BYTES.length; i++) {
    if (message[i] !== DOMAIN_BYTES[i]) return null;
  }
  return message.slice(DOMAIN_BYTES.length);
}

export function concatFrame(body: Uint8Array, signature: Uint8Array): Uint8Array {
  const frame = new Uint8Array(body.length + signature.length);
  frame.set(body, 0);
  frame.set(signature, body.length);
  return frame;
}

export interface DecodedFrame {
  claims: SignedTicketClaims;
  body: Uint8Array;
  signature: Uint8Array;
}

/** Returns null (never throws) unless `frame` is a well-formed version-1 frame. */
export function decodeFrame(frame: Uint8Array): DecodedFrame | null {
  if (frame.length < 2 + SIGNATURE_LENGTH) return null;
  const header = frame[0]!;
  if (header >> 4 !== FRAME_VERSION) return null;
  const flags = header & 0x0f;
  if ((flags & ~KNOWN_FLAGS) !== 0) return null;
  const keyId = frame[1]!;

  const bodyEnd = frame.length - SIGNATURE_LENGTH;
  // Bounding varint reads by bodyEnd keeps them out of the signature bytes.
  const body = frame.subarray(0, bodyEnd);
  const eventRef = readVarint(body, 2, 1, MAX_U32);
  if (eventRef === null) return null;
  const ticketSerial = readVarint(body, eventRef.next, 1, MAX_U32);
  if (ticketSerial === null) return null;
  const typeRef = readVarint(body, ticketSerial.next, 0, MAX_TYPE_REF);
  if (typeRef === null) return null;
  let next = typeRef.next;

  let validFromMinutes: number | null = null;
  if ((flags & FLAG_VALID_FROM) !== 0) {
    const read = readVarint(body, next, 0, MAX_VALIDITY_MINUTES);
    if (read === null) return null;
    validFromMinutes = read.value;
    next = read.next;
  }
  let validUntilMinutes: number | null = null;
  if ((flags & FLAG_VALID_UNTIL) !== 0) {
    const read = readVarint(body, next, 0, MAX_VALIDITY_MINUTES);
    if (read === null) return null;
    validUntilMinutes = read.value;
    next = read.next;
  }
  if (validFromMinutes !== null && validUntilMinutes !== null && validFromMinutes > validUntilMinutes) return null;
  // Anything between the last field and the signature means the signature is not where
  // the encoder puts it: the frame is malformed rather than a different claim set.
  if (next !== bodyEnd) return null;

  const fields: FrameFields = {
    keyId,
    eventRef: eventRef.value,
    ticketSerial: ticketSerial.value,
    typeRef: typeRef.value,
    validFromMinutes,
    validUntilMinutes,
  };
  return { claims: frameFieldsToClaims(fields), body: frame.slice(0, bodyEnd), signature: frame.slice(bodyEnd) };
}
