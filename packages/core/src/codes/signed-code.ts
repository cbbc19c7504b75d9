// Issuing and verifying Entrada-signed ticket codes. The byte layout lives in frame.ts.

import { decodeBase32, encodeBase32 } from './base32.ts';
import {
  bodyOfSigningMessage,
  concatFrame,
  decodeFrame,
  encodeFrameBody,
  SIGNATURE_LENGTH,
  signingMessage,
} from './frame.ts';
import type { KeyLookup, ParsedCode, SignatureCheck, SignedTicketClaims, Signer, Verifier } from './types.ts';

export const SIGNED_CODE_PREFIX = 'EN';

export type SignedCode = Extract<ParsedCode, { kind: 'signed' }>;

/** Throws RangeError on out-of-range claims or a signer that does not return 64 bytes. */
export function issueSignedCode(claims: SignedTicketClaims, sign: Signer): string {
  const body = encodeFrameBody(claims);
  const signature = sign(signingMessage(body));
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_LENGTH) {
    throw new RangeError(`signer must return a ${SIGNATURE_LENGTH}-byte signature`);
  }
  return SIGNED_CODE_PREFIX + encodeBase32(concatFrame(body, signature));
}

export function hasSignedPrefix(text: string): boolean {
  // Compared code by code: toUpperCase() on arbitrary input can change the string length.
  const e = text.charCodeAt(0);
  const n = text.charCodeAt(1);
  return (e === 0x45 || e === 0x65) && (n === 0x4e || n === 0x6e);
}

/**
 * Returns null (never throws) unless `text` is "EN" + base32 of a well-formed frame. The
 * signature is not checked here: a forged code is still recognisably a signed code, and
 * reporting it as such is more useful than treating it as an unknown imported code.
 */
export function decodeSignedCodeText(text: string): SignedCode | null {
  if (!hasSignedPrefix(text)) return null;
  const frame = decodeBase32(text.slice(SIGNED_CODE_PREFIX.length));
  if (frame === null) return null;
  const decoded = decodeFrame(frame);
  if (decoded === null) return null;
  return {
    kind: 'signed',
    claims: decoded.claims,
    message: signingMessage(decoded.body),
    signature: decoded.signature,
    // Canonical spelling, so the same ticket scanned in lower case is the same string. A text that
    // decoded is alphabet-only with zero padding bits, so upper-casing it is exactly re-encoding the
    // frame (without building the string again one character at a time).
    text: SIGNED_CODE_PREFIX + text.slice(SIGNED_CODE_PREFIX.length).toUpperCase(),
  };
}

function sameWindowBound(a: number | null | undefined, b: number | null | undefined): boolean {
  return (a ?? null) === (b ?? null);
}

function sameClaims(a: SignedTicketClaims, b: SignedTicketClaims): boolean {
  return (
    a.keyId === b.keyId &&
    a.eventRef === b.eventRef &&
    a.ticketSerial === b.ticketSerial &&
    a.typeRef === b.typeRef &&
    sameWindowBound(a.validFrom, b.validFrom) &&
    sameWindowBound(a.validUntil, b.validUntil)
  );
}

function check(parsed: SignedCode, keys: KeyLookup, verify: Verifier): SignatureCheck {
  const { message, signature, claims } = parsed;
  if (!(message instanceof Uint8Array) || !(signature instanceof Uint8Array)) return 'bad_signature';
  // The parsed value may have been built or altered after parsing (e.g. relayed through
  // sync), so the claims the caller will act on must be exactly the ones the message
  // encodes; otherwise a valid signature could vouch for different claims.
  const body = bodyOfSigningMessage(message);
  if (body === null) return 'bad_signature';
  const decoded = decodeFrame(concatFrame(body, signature));
  if (decoded === null || !sameClaims(decoded.claims, claims)) return 'bad_signature';

  let publicKey: Uint8Array | undefined;
  try {
    publicKey = keys(decoded.claims.keyId);
  } catch {
    return 'unknown_key';
  }
  if (!(publicKey instanceof Uint8Array)) return 'unknown_key';
  return verify(publicKey, message, signature) === true ? 'ok' : 'bad_signature';
}

/** Never throws: a scanner must keep running whatever it is handed. */
export function verifySignedCode(parsed: SignedCode, keys: KeyLookup, verify: Verifier): SignatureCheck {
  try {
    if (typeof parsed !== 'object' || parsed === null) return 'bad_signature';
    return check(parsed, keys, verify);
  } catch {
    // Only a throwing verifier or a hostile parsed object gets here; neither can vouch for
    // the code.
    return 'bad_signature';
  }
}
