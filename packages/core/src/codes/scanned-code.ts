// Classifying whatever a scanner hands us: an Entrada-signed code, an imported code from
// another ticketing system, or input that cannot be a ticket code at all.

import { decodeSignedCodeText, hasSignedPrefix, SIGNED_CODE_PREFIX } from './signed-code.ts';
import type { CodeParseResult } from './types.ts';

/**
 * Measured in UTF-16 code units (String.length), the same unit TypeBox's maxLength uses, so
 * a code accepted here also passes protocol schemas.
 */
export const MAX_CODE_LENGTH = 256;

// In a `u` regex \p{Cs} only matches unpaired surrogates, since pairs are read as one code
// point. \p{Cc} is exactly U+0000-U+001F and U+007F-U+009F.
const FORBIDDEN = /[\p{Cc}\p{Cs}]/u;

/** Keyboard-wedge scanners type the code followed by Enter; people paste with stray blanks. */
function stripScannerNoise(raw: string): string {
  let text = raw;
  if (text.endsWith('\r\n')) text = text.slice(0, -2);
  else if (text.endsWith('\n') || text.endsWith('\r')) text = text.slice(0, -1);
  let start = 0;
  let end = text.length;
  while (start < end && isBlank(text.charCodeAt(start))) start++;
  while (end > start && isBlank(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/**
 * The text `parseScannedCode` would give `input` if it is a signed code, found
 * without decoding it (no base32, no frame): null when it cannot be one. A
 * keyed digest of this text that matches a signed ticket proves the code is
 * that ticket's (the server's sync then skips the decoding); anything else
 * must still be parsed, as an imported code may also start with "EN".
 */
export function signedCodeText(input: string): string | null {
  const text = stripScannerNoise(input);
  if (
    text.length <= SIGNED_CODE_PREFIX.length ||
    text.length > MAX_CODE_LENGTH ||
    !hasSignedPrefix(text) ||
    FORBIDDEN.test(text)
  )
    return null;
  return SIGNED_CODE_PREFIX + text.slice(SIGNED_CODE_PREFIX.length).toUpperCase();
}

/** Never throws, whatever the input. */
export function parseScannedCode(input: unknown): CodeParseResult {
  if (typeof input !== 'string') return { kind: 'invalid', reason: 'not_text' };
  const text = stripScannerNoise(input);
  if (text.length === 0) return { kind: 'invalid', reason: 'empty' };
  if (text.length > MAX_CODE_LENGTH) return { kind: 'invalid', reason: 'too_long' };
  if (FORBIDDEN.test(text)) return { kind: 'invalid', reason: 'control_characters' };
  // Imported codes may legitimately start with "EN" (e.g. "ENT-1234"), so anything that is
  // not a well-formed frame falls back to being an imported code.
  return decodeSignedCodeText(text) ?? { kind: 'imported', code: text };
}
