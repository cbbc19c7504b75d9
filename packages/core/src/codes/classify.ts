// What a scanned string is, for one event: the one rule the online scan, the
// offline sync and the scanner all apply, so the three give the same verdict.

import { parseScannedCode } from './scanned-code.ts';
import { verifySignedCode, type SignedCode } from './signed-code.ts';
import type { KeyLookup, Verifier } from './types.ts';

/** The event a code is scanned at, as far as codes are concerned. */
export interface CodeScope {
  /** The event's compact ref (the one its signed codes carry). */
  eventRef: number;
  /** The event's public keys by key id. */
  keys: KeyLookup;
  /**
   * The public keys of the organisation's other events, by their ref;
   * undefined when the ref is not another event of the organisation. Public
   * keys are not secret: the scanner's manifest carries them.
   */
  otherEvents: (eventRef: number) => KeyLookup | undefined;
}

/** Why a code cannot be a ticket of the event: known from the code (and a look-up that missed). */
export interface CodeRefusal {
  result: 'invalid_token' | 'wrong_event';
  reason: 'malformed_code' | 'wrong_event' | 'bad_signature' | 'unknown_key' | 'unknown_code';
}

/** A code that may be a ticket of this event: look its ticket up by the keyed digest of `text`. */
export type EventCode = { kind: 'signed'; text: string; code: SignedCode } | { kind: 'imported'; text: string };

export type ScannedCode =
  | EventCode
  /** Not a code at all: nothing to look up or digest. */
  | { kind: 'unreadable'; refusal: CodeRefusal }
  /** A signed code naming another event: `wrong_event` only when it is the organisation's and verifies. */
  | { kind: 'other_event'; text: string; refusal: CodeRefusal };

const MALFORMED: CodeRefusal = { result: 'invalid_token', reason: 'malformed_code' };
const WRONG_EVENT: CodeRefusal = { result: 'wrong_event', reason: 'wrong_event' };
const UNKNOWN_CODE: CodeRefusal = { result: 'invalid_token', reason: 'unknown_code' };

/**
 * Reads a scanned string for `scope`'s event (never throws):
 * - unreadable (empty, too long, control characters);
 * - a signed code of this event, or an imported code (anything else that is
 *   printable, including look-alikes starting with "EN"): its ticket is found
 *   by the keyed digest of `text`;
 * - a signed code of another event: `wrong_event` when that event is one of
 *   the organisation's and the code verifies with its keys; otherwise the
 *   code is forged or of another organisation, `invalid_token` with the
 *   signature check's reason (`unknown_key` when the event's keys are not
 *   ours to check with), so nothing tells a scanner whether a code is a real
 *   ticket elsewhere.
 * Imported codes are matched in this event only: an imported code of another
 * event is an unknown code (see docs/architecture.md, Ticket codes).
 */
export function readScannedCode(input: unknown, scope: CodeScope, verify: Verifier): ScannedCode {
  const parsed = parseScannedCode(input);
  if (parsed.kind === 'invalid') return { kind: 'unreadable', refusal: MALFORMED };
  if (parsed.kind === 'imported') return { kind: 'imported', text: parsed.code };
  if (parsed.claims.eventRef === scope.eventRef) return { kind: 'signed', text: parsed.text, code: parsed };
  let keys: KeyLookup | undefined;
  try {
    keys = scope.otherEvents(parsed.claims.eventRef);
  } catch {
    keys = undefined;
  }
  const check = verifySignedCode(parsed, keys ?? (() => undefined), verify);
  return {
    kind: 'other_event',
    text: parsed.text,
    refusal: check === 'ok' ? WRONG_EVENT : { result: 'invalid_token', reason: check },
  };
}

/**
 * The verdict on a code of this event whose digest matched no ticket. Only
 * here is a signed code's signature checked: a keyed digest that matches a
 * ticket is exactly the text that was issued, so it proves the code (callers
 * holding the digest of `signedCodeText(input)` that matches a signed ticket
 * may skip `readScannedCode` altogether: it would say this event's signed code
 * with that text). A genuine code with no ticket is `unknown_code`; a forged
 * one says why it fails.
 */
export function unmatchedCode(code: EventCode, scope: CodeScope, verify: Verifier): CodeRefusal {
  if (code.kind === 'imported') return UNKNOWN_CODE;
  const check = verifySignedCode(code.code, scope.keys, verify);
  return check === 'ok' ? UNKNOWN_CODE : { result: 'invalid_token', reason: check };
}

export type CodeClass<T> =
  | { kind: 'ticket'; ticket: T; code: EventCode }
  /** `text`: the code's canonical text, null when unreadable. */
  | { kind: 'refused'; refusal: CodeRefusal; text: string | null };

/**
 * `readScannedCode`, the look-up and `unmatchedCode` in one, for a caller
 * whose look-up is synchronous (a scanner's manifest, the golden vectors).
 * `find` returns the ticket of an event code. `findProves`: whether a ticket
 * found proves a signed code — true for a look-up by keyed digest of the whole
 * text; false for one by serial (a scanner's manifest holds no digest of
 * signed codes), and then the signature is checked before the look-up.
 */
export function classifyScannedCode<T>(
  input: unknown,
  scope: CodeScope,
  verify: Verifier,
  find: (code: EventCode) => T | undefined,
  options: { findProves?: boolean } = {},
): CodeClass<T> {
  const code = readScannedCode(input, scope, verify);
  if (code.kind === 'unreadable') return { kind: 'refused', refusal: code.refusal, text: null };
  if (code.kind === 'other_event') return { kind: 'refused', refusal: code.refusal, text: code.text };
  if (code.kind === 'signed' && options.findProves === false) {
    const check = verifySignedCode(code.code, scope.keys, verify);
    if (check !== 'ok')
      return { kind: 'refused', refusal: { result: 'invalid_token', reason: check }, text: code.text };
  }
  const ticket = find(code);
  if (ticket !== undefined) return { kind: 'ticket', ticket, code };
  return {
    kind: 'refused',
    refusal: options.findProves === false ? UNKNOWN_CODE : unmatchedCode(code, scope, verify),
    text: code.text,
  };
}
