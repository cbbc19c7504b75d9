// Claim ranges and the millisecond <-> minute mapping of the validity window. Shared by the
// encoder (which throws on out-of-range claims) and the decoder (which rejects them), so
// both sides agree on exactly which claim sets are representable.

import type { SignedTicketClaims } from './types.ts';

export const MAX_KEY_ID = 0xff;
export const MAX_U32 = 0xffffffff;
export const MAX_TYPE_REF = 0xffff;

/** 2024-01-01T00:00:00Z: counting from here keeps current timestamps to 3-4 varint bytes. */
export const VALIDITY_EPOCH_MS = 1704067200000;
const MINUTE_MS = 60_000;
export const MAX_VALIDITY_MINUTES = MAX_U32;

/** Claims in the form the frame stores them. */
export interface FrameFields {
  keyId: number;
  eventRef: number;
  ticketSerial: number;
  typeRef: number;
  validFromMinutes: number | null;
  validUntilMinutes: number | null;
}

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

function toMinutes(name: string, value: unknown, round: (x: number) => number): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a finite epoch-millisecond number, got ${String(value)}`);
  }
  // `+ 0` turns the -0 that Math.ceil returns just below the epoch into 0.
  const minutes = round((value - VALIDITY_EPOCH_MS) / MINUTE_MS) + 0;
  if (minutes < 0 || minutes > MAX_VALIDITY_MINUTES) {
    throw new RangeError(`${name} must lie between 2024-01-01T00:00Z and about 10190 AD, got ${value}`);
  }
  return minutes;
}

/** Throws RangeError for claims that cannot be represented; they indicate a caller bug. */
export function claimsToFrameFields(claims: SignedTicketClaims): FrameFields {
  const validFromMinutes = toMinutes('validFrom', claims.validFrom, Math.floor);
  const validUntilMinutes = toMinutes('validUntil', claims.validUntil, Math.ceil);
  // Compared before rounding: widening to minutes would hide an inverted window that lies
  // within one minute, and an inverted window is always a caller bug.
  const { validFrom, validUntil } = claims;
  if (typeof validFrom === 'number' && typeof validUntil === 'number' && validFrom > validUntil) {
    throw new RangeError('validFrom must not be after validUntil');
  }
  return {
    keyId: checkInteger('keyId', claims.keyId, 0, MAX_KEY_ID),
    eventRef: checkInteger('eventRef', claims.eventRef, 1, MAX_U32),
    ticketSerial: checkInteger('ticketSerial', claims.ticketSerial, 1, MAX_U32),
    typeRef: checkInteger('typeRef', claims.typeRef, 0, MAX_TYPE_REF),
    validFromMinutes,
    validUntilMinutes,
  };
}

export function frameFieldsToClaims(fields: FrameFields): SignedTicketClaims {
  return {
    keyId: fields.keyId,
    eventRef: fields.eventRef,
    ticketSerial: fields.ticketSerial,
    typeRef: fields.typeRef,
    validFrom: fields.validFromMinutes === null ? null : VALIDITY_EPOCH_MS + fields.validFromMinutes * MINUTE_MS,
    validUntil: fields.validUntilMinutes === null ? null : VALIDITY_EPOCH_MS + fields.validUntilMinutes * MINUTE_MS,
  };
}
