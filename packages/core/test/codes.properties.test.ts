// Property tests of the security-relevant guarantees: signatures bind every byte of a code,
// and parsing is total.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase32, encodeBase32 } from '../src/codes/base32.ts';
import { decodeFrame, encodeFrameBody } from '../src/codes/frame.ts';
import {
  ed25519,
  issueSignedCode,
  MAX_CODE_LENGTH,
  parseScannedCode,
  signedCodeText,
  verifySignedCode,
} from '../src/codes/index.ts';
import type { CodeParseResult, SignatureCheck, SignedTicketClaims } from '../src/codes/index.ts';

const EPOCH = 1_704_067_200_000;
const MINUTE = 60_000;
const MAX_MINUTES = 2 ** 32 - 1;

const secretKey = Uint8Array.from({ length: 32 }, (_, i) => 200 - i);
const publicKey = ed25519.publicKeyOf(secretKey);
// Answering for every key id means a tampered key id is caught by the signature, not by
// the lookup: the stronger claim.
const anyKeyId = () => publicKey;
const sign = (message: Uint8Array) => ed25519.sign(secretKey, message);

const u32 = (min: number) => fc.bigInt({ min: BigInt(min), max: BigInt(2 ** 32 - 1) }).map(Number);

const minutes = fc.bigInt({ min: 0n, max: BigInt(MAX_MINUTES) }).map(Number);
const subMinute = fc.integer({ min: 0, max: MINUTE - 1 });

/**
 * Windows whose bounds fall anywhere inside a minute; validFrom is placed at or after its
 * minute and validUntil at or before its, so both round to in-range minutes, in order.
 */
const windowArb = fc
  .record({
    a: minutes,
    b: minutes,
    fromMs: subMinute,
    untilMs: subMinute,
    hasFrom: fc.boolean(),
    hasUntil: fc.boolean(),
    absent: fc.constantFrom(null, undefined),
  })
  .map(({ a, b, fromMs, untilMs, hasFrom, hasUntil, absent }) => {
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    // Offsets can invert bounds that are less than a minute apart; drop them in that case.
    const [f, u] = lo * MINUTE + fromMs > hi * MINUTE - untilMs ? [0, 0] : [fromMs, untilMs];
    return {
      validFrom: hasFrom ? EPOCH + lo * MINUTE + f : absent,
      validUntil: hasUntil ? EPOCH + hi * MINUTE - u : absent,
    };
  });

const claimsArb: fc.Arbitrary<SignedTicketClaims> = fc
  .record({
    keyId: fc.integer({ min: 0, max: 255 }),
    eventRef: u32(1),
    ticketSerial: u32(1),
    typeRef: fc.integer({ min: 0, max: 65_535 }),
    window: windowArb,
  })
  .map(({ window, ...rest }) => ({ ...rest, ...window }));

function expectedClaims(claims: SignedTicketClaims): SignedTicketClaims {
  const minutes = (ms: number | null | undefined, round: (x: number) => number) =>
    ms === null || ms === undefined ? null : EPOCH + (round((ms - EPOCH) / MINUTE) + 0) * MINUTE;
  return {
    ...claims,
    validFrom: minutes(claims.validFrom, Math.floor),
    validUntil: minutes(claims.validUntil, Math.ceil),
  };
}

function frameOf(text: string): Uint8Array {
  const frame = decodeBase32(text.slice(2));
  if (frame === null) throw new Error('issued code does not decode');
  return frame;
}

function check(result: CodeParseResult): SignatureCheck | CodeParseResult['kind'] {
  return result.kind === 'signed' ? verifySignedCode(result, anyKeyId, ed25519.verify) : result.kind;
}

describe('signed code properties', () => {
  it('sign/verify round-trips arbitrary claims', () => {
    fc.assert(
      fc.property(claimsArb, (claims) => {
        const text = issueSignedCode(claims, sign);
        expect(text.length).toBeLessThanOrEqual(MAX_CODE_LENGTH);
        const parsed = parseScannedCode(text);
        expect(parsed).toMatchObject({ kind: 'signed', text, claims: expectedClaims(claims) });
        if (parsed.kind !== 'signed') return;
        expect(verifySignedCode(parsed, (id) => (id === claims.keyId ? publicKey : undefined), ed25519.verify)).toBe(
          'ok',
        );
        expect(verifySignedCode(parsed, (id) => (id === claims.keyId ? undefined : publicKey), ed25519.verify)).toBe(
          'unknown_key',
        );
        // Re-issuing decoded claims reproduces the code: one claim set, one encoding.
        expect(issueSignedCode(parsed.claims, sign)).toBe(text);
        expect(parseScannedCode(`  ${text.toLowerCase()}\r\n`)).toMatchObject({ kind: 'signed', text });
      }),
      { numRuns: 200 },
    );
  });

  it('keeps typical codes (no window, eventRef < 2^14, serial < 2^21, typeRef < 2^14) within 120 characters', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 1, max: 2 ** 14 - 1 }),
        fc.integer({ min: 1, max: 2 ** 21 - 1 }),
        fc.integer({ min: 0, max: 2 ** 14 - 1 }),
        (keyId, eventRef, ticketSerial, typeRef) => {
          expect(issueSignedCode({ keyId, eventRef, ticketSerial, typeRef }, sign).length).toBeLessThanOrEqual(120);
        },
      ),
    );
  });

  it('rejects ANY single-byte change of the frame', () => {
    fc.assert(
      fc.property(claimsArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (claims, position, delta) => {
        const text = issueSignedCode(claims, sign);
        const frame = frameOf(text);
        const index = position % frame.length;
        frame[index] = (frame[index]! + delta) & 0xff;
        const result = parseScannedCode('EN' + encodeBase32(frame));
        // Either no longer a signed code, or a signed code whose signature fails.
        expect(['imported', 'invalid', 'bad_signature']).toContain(check(result));
      }),
      { numRuns: 300 },
    );
  });

  it('rejects ANY bit flip of the frame', () => {
    fc.assert(
      fc.property(claimsArb, fc.nat(), (claims, position) => {
        const frame = frameOf(issueSignedCode(claims, sign));
        const bit = position % (frame.length * 8);
        frame[bit >> 3] = frame[bit >> 3]! ^ (1 << (bit & 7));
        expect(['imported', 'invalid', 'bad_signature']).toContain(check(parseScannedCode('EN' + encodeBase32(frame))));
      }),
      { numRuns: 300 },
    );
  });

  it('rejects every single bit flip of one code exhaustively', () => {
    const frame = frameOf(
      issueSignedCode(
        { keyId: 3, eventRef: 4242, ticketSerial: 99, typeRef: 2, validFrom: EPOCH, validUntil: EPOCH + 9 * MINUTE },
        sign,
      ),
    );
    for (let bit = 0; bit < frame.length * 8; bit++) {
      const mutated = frame.slice();
      mutated[bit >> 3] = mutated[bit >> 3]! ^ (1 << (bit & 7));
      expect(check(parseScannedCode('EN' + encodeBase32(mutated)))).not.toBe('ok');
    }
  });

  it('rejects any single-character change, insertion or deletion in the text', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    fc.assert(
      fc.property(
        claimsArb,
        fc.nat(),
        fc.constantFrom(...alphabet),
        fc.constantFrom('replace', 'insert', 'delete'),
        (claims, position, char, edit) => {
          const text = issueSignedCode(claims, sign);
          const index = 2 + (position % (text.length - 2));
          const mutated =
            edit === 'replace'
              ? text.slice(0, index) + char + text.slice(index + 1)
              : edit === 'insert'
                ? text.slice(0, index) + char + text.slice(index)
                : text.slice(0, index) + text.slice(index + 1);
          fc.pre(mutated !== text);
          expect(check(parseScannedCode(mutated))).not.toBe('ok');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes well-formed frames to claims that re-encode to the same bytes', () => {
    // Structured random frames reach deep into the decoder, unlike uniformly random bytes.
    const structured = fc
      .tuple(
        fc.integer({ min: 0x0f, max: 0x1f }),
        fc.uint8Array({ minLength: 1, maxLength: 1 }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0x80, max: 0xff })), { maxLength: 24 }),
        fc.uint8Array({ minLength: 63, maxLength: 65 }),
      )
      .map(([header, keyId, body, signature]) => Uint8Array.from([header, ...keyId, ...body, ...signature]));
    fc.assert(
      fc.property(fc.oneof(structured, fc.uint8Array({ maxLength: 100 })), (bytes) => {
        const decoded = decodeFrame(bytes);
        if (decoded === null) return;
        const body = encodeFrameBody(decoded.claims);
        expect(Uint8Array.from([...body, ...decoded.signature])).toEqual(bytes);
        const result = parseScannedCode('EN' + encodeBase32(bytes));
        expect(result).toMatchObject({ kind: 'signed', claims: decoded.claims });
        expect(check(result)).toBe('bad_signature');
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('parseScannedCode properties', () => {
  function assertWellBehaved(input: unknown): void {
    let result: CodeParseResult | undefined;
    expect(() => {
      result = parseScannedCode(input);
    }).not.toThrow();
    if (result === undefined) throw new Error('unreachable');
    switch (result.kind) {
      case 'imported':
        expect(result.code.length).toBeGreaterThan(0);
        expect(result.code.length).toBeLessThanOrEqual(MAX_CODE_LENGTH);
        expect(result.code).not.toMatch(/[\p{Cc}\p{Cs}]/u);
        expect(result.code).toBe(result.code.replace(/^[ \t]+|[ \t]+$/g, ''));
        break;
      case 'signed':
        expect(verifySignedCode(result, anyKeyId, ed25519.verify)).not.toBe('ok');
        break;
      case 'invalid':
        expect(['empty', 'too_long', 'control_characters', 'not_text']).toContain(result.reason);
        break;
    }
  }

  it('never throws on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), assertWellBehaved), { numRuns: 1_000 });
  });

  it('never throws on full-unicode strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), assertWellBehaved), { numRuns: 1_000 });
  });

  it('never throws on strings of arbitrary UTF-16 code units, lone surrogates included', () => {
    const units = fc
      .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 300 })
      .map((codes) => String.fromCharCode(...codes));
    fc.assert(fc.property(units, assertWellBehaved), { numRuns: 1_000 });
  });

  it('never throws on byte-derived strings, and garbage never verifies', () => {
    const fromBytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((bytes) => String.fromCharCode(...bytes)),
      fc.uint8Array({ maxLength: 300 }).map((bytes) => new TextDecoder().decode(bytes)),
      fc.uint8Array({ maxLength: 120 }).map((bytes) => 'EN' + encodeBase32(bytes)),
      fc
        .uint8Array({ minLength: 64, maxLength: 100 })
        .map((bytes) => 'en' + encodeBase32(Uint8Array.from([0x10 | (bytes[0]! & 3), ...bytes.subarray(1)]))),
      fc.string({ unit: fc.constantFrom(...'ENABCXYZ234567 \t\r\nen-'), maxLength: 200 }),
    );
    fc.assert(fc.property(fromBytes, assertWellBehaved), { numRuns: 2_000 });
  });

  it('never throws on arbitrary values', () => {
    fc.assert(
      fc.property(
        fc.anything({ withBigInt: true, withMap: true, withSet: true, withTypedArray: true, withBoxedValues: true }),
        assertWellBehaved,
      ),
    );
  });

  it('is insensitive to one trailing line ending and surrounding blanks', () => {
    const blanks = fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 3 });
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom('a', 'E', 'N', ' ', '\t', '\r', '\n', '\u0000', '\u0085', '\ud800', '\udc00', 'é'),
          maxLength: 260,
        }),
        fc.constantFrom('', '\n', '\r', '\r\n'),
        blanks,
        blanks,
        (core, ending, before, after) => {
          fc.pre(core === core.replace(/^[ \t]+|[ \t]+$/g, '') && !/[\r\n]$/.test(core));
          expect(parseScannedCode(before + core + after + ending)).toEqual(parseScannedCode(core));
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('signedCodeText gives a signed code the very text parsing gives it, in any case and with scanner noise', () => {
    const noise = fc.constantFrom('', ' ', '\t', '\n', '\r\n', ' \r\n');
    fc.assert(
      fc.property(claimsArb, fc.boolean(), noise, noise, (claims, lower, before, after) => {
        const code = issueSignedCode(claims, sign);
        const scanned = before.replace(/[\r\n]/g, '') + (lower ? code.toLowerCase() : code) + after;
        const parsed = parseScannedCode(scanned);
        expect(parsed.kind).toBe('signed');
        expect(signedCodeText(scanned)).toBe(parsed.kind === 'signed' ? parsed.text : null);
      }),
      { numRuns: 300 },
    );
  });

  it("signedCodeText is null for whatever parsing cannot read as a signed code's spelling, and never throws", () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom('a', 'E', 'N', 'e', 'n', 'Z', '2', ' ', '\t', '\n', '\u0000', 'é'),
          maxLength: 300,
        }),
        (text) => {
          const guess = signedCodeText(text);
          const parsed = parseScannedCode(text);
          // A guess is only ever the parsed signed text, or a text that parses otherwise (then the server parses it).
          if (parsed.kind === 'signed') expect(guess).toBe(parsed.text);
          if (parsed.kind === 'invalid') expect(guess).toBeNull();
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
