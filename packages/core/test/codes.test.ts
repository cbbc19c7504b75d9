import { describe, expect, it } from 'vitest';
import {
  codeDigest,
  ed25519,
  fromHex,
  issueSignedCode,
  MAX_CODE_LENGTH,
  parseScannedCode,
  SIGNED_CODE_PREFIX,
  toHex,
  verifySignedCode,
} from '../src/codes/index.ts';
import type { CodeParseResult, KeyLookup, ParsedCode, SignedTicketClaims } from '../src/codes/index.ts';

type Signed = Extract<ParsedCode, { kind: 'signed' }>;

const EPOCH = Date.UTC(2024, 0, 1);
const MINUTE = 60_000;

function seed(fill: number): Uint8Array {
  return Uint8Array.from({ length: 32 }, (_, i) => (fill * 31 + i * 7) & 0xff);
}

const key1 = ed25519.generateKeyPair(() => seed(1));
const key2 = ed25519.generateKeyPair(() => seed(2));
const keys: KeyLookup = (keyId) => ({ 1: key1.publicKey, 2: key2.publicKey })[keyId];

const typical: SignedTicketClaims = { keyId: 1, eventRef: 4242, ticketSerial: 123_456, typeRef: 3 };

function issue(claims: SignedTicketClaims, secretKey = key1.secretKey): string {
  return issueSignedCode(claims, (message) => ed25519.sign(secretKey, message));
}

function expectSigned(result: CodeParseResult): Signed {
  expect(result.kind).toBe('signed');
  if (result.kind !== 'signed') throw new Error('unreachable');
  return result;
}

function normalized(claims: SignedTicketClaims): SignedTicketClaims {
  return { ...claims, validFrom: claims.validFrom ?? null, validUntil: claims.validUntil ?? null };
}

describe('signed codes: round trip', () => {
  it('round-trips claims without a validity window', () => {
    const text = issue(typical);
    expect(text.startsWith(SIGNED_CODE_PREFIX)).toBe(true);
    expect(text).toMatch(/^EN[A-Z2-7]+$/);
    const parsed = expectSigned(parseScannedCode(text));
    expect(parsed.claims).toEqual(normalized(typical));
    expect(parsed.text).toBe(text);
    expect(parsed.signature).toHaveLength(64);
    expect(verifySignedCode(parsed, keys, ed25519.verify)).toBe('ok');
  });

  it('round-trips a validity window, widened to whole minutes', () => {
    const claims = { ...typical, validFrom: EPOCH + 1_000 * MINUTE + 59_999, validUntil: EPOCH + 2_000 * MINUTE + 1 };
    const parsed = expectSigned(parseScannedCode(issue(claims)));
    expect(parsed.claims).toEqual({
      ...typical,
      validFrom: EPOCH + 1_000 * MINUTE,
      validUntil: EPOCH + 2_001 * MINUTE,
    });
    expect(verifySignedCode(parsed, keys, ed25519.verify)).toBe('ok');
  });

  it('keeps whole-minute bounds unchanged and supports one-sided windows', () => {
    const from = Date.UTC(2026, 5, 1, 18, 30);
    const until = Date.UTC(2026, 5, 2, 4, 0);
    for (const claims of [
      { ...typical, validFrom: from, validUntil: until },
      { ...typical, validFrom: from },
      { ...typical, validUntil: until, validFrom: null },
      { ...typical, validFrom: from, validUntil: from },
    ]) {
      const parsed = expectSigned(parseScannedCode(issue(claims)));
      expect(parsed.claims).toEqual(normalized(claims));
      expect(verifySignedCode(parsed, keys, ed25519.verify)).toBe('ok');
    }
  });

  it('accepts the extremes of every claim range', () => {
    const claims = {
      keyId: 255,
      eventRef: 2 ** 32 - 1,
      ticketSerial: 2 ** 32 - 1,
      typeRef: 65_535,
      validFrom: EPOCH,
      validUntil: EPOCH + (2 ** 32 - 1) * MINUTE,
    };
    const parsed = expectSigned(parseScannedCode(issue(claims)));
    expect(parsed.claims).toEqual(claims);
    const min = { keyId: 0, eventRef: 1, ticketSerial: 1, typeRef: 0 };
    expect(expectSigned(parseScannedCode(issue(min))).claims).toEqual(normalized(min));
  });

  it('is deterministic (Ed25519 signatures are)', () => {
    expect(issue(typical)).toBe(issue(typical));
  });
});

describe('signed codes: length', () => {
  // Measured lengths, asserted exactly so a format change that grows codes is noticed.
  it.each<{ name: string; claims: SignedTicketClaims; length: number }>([
    { name: 'smallest', claims: { keyId: 0, eventRef: 1, ticketSerial: 1, typeRef: 0 }, length: 113 },
    { name: 'typical', claims: typical, length: 118 },
    {
      name: 'typical upper bound',
      claims: { keyId: 255, eventRef: 2 ** 14 - 1, ticketSerial: 2 ** 21 - 1, typeRef: 2 ** 14 - 1 },
      length: 119,
    },
    { name: 'typical but typeRef >= 2^14', claims: { ...typical, typeRef: 2 ** 14 }, length: 121 },
    {
      name: '2026 window',
      claims: { ...typical, validFrom: Date.UTC(2026, 5, 1), validUntil: Date.UTC(2026, 5, 2) },
      length: 127,
    },
    {
      name: 'largest',
      claims: {
        keyId: 255,
        eventRef: 2 ** 32 - 1,
        ticketSerial: 2 ** 32 - 1,
        typeRef: 65_535,
        validFrom: EPOCH + (2 ** 32 - 1) * MINUTE,
        validUntil: EPOCH + (2 ** 32 - 1) * MINUTE,
      },
      length: 145,
    },
  ])('$name claims give $length characters', ({ claims, length }) => {
    const text = issue(claims);
    expect(text).toHaveLength(length);
    expect(text.length).toBeLessThanOrEqual(MAX_CODE_LENGTH);
  });

  it('keeps a typical code (no window, eventRef < 2^14, serial < 2^21) within 120 characters', () => {
    expect(
      issue({ keyId: 255, eventRef: 2 ** 14 - 1, ticketSerial: 2 ** 21 - 1, typeRef: 255 }).length,
    ).toBeLessThanOrEqual(120);
  });
});

describe('signed codes: keys', () => {
  it('verifies a code signed with rotated key 2 against key 2', () => {
    const parsed = expectSigned(parseScannedCode(issue({ ...typical, keyId: 2 }, key2.secretKey)));
    expect(parsed.claims.keyId).toBe(2);
    expect(verifySignedCode(parsed, keys, ed25519.verify)).toBe('ok');
  });

  it("answers 'unknown_key' when the key id is not known", () => {
    const parsed = expectSigned(parseScannedCode(issue({ ...typical, keyId: 2 }, key2.secretKey)));
    expect(verifySignedCode(parsed, (id) => (id === 1 ? key1.publicKey : undefined), ed25519.verify)).toBe(
      'unknown_key',
    );
    expect(verifySignedCode(parsed, () => undefined, ed25519.verify)).toBe('unknown_key');
  });

  it("answers 'bad_signature' when signed with a different key than its key id names", () => {
    const parsed = expectSigned(parseScannedCode(issue({ ...typical, keyId: 2 }, key1.secretKey)));
    expect(verifySignedCode(parsed, keys, ed25519.verify)).toBe('bad_signature');
  });

  it("answers 'bad_signature' for a well-formed frame with a forged signature", () => {
    const parsed = expectSigned(parseScannedCode(issueSignedCode(typical, () => new Uint8Array(64).fill(9))));
    expect(verifySignedCode(parsed, keys, ed25519.verify)).toBe('bad_signature');
  });
});

describe('signed codes: scanner input tolerance', () => {
  const text = issue(typical);

  it('decodes case-insensitively and reports the canonical spelling', () => {
    for (const variant of [
      text.toLowerCase(),
      'en' + text.slice(2),
      'eN' + text.slice(2).toLowerCase(),
      text.replace(/[A-Z]/g, (c, i: number) => (i % 2 ? c.toLowerCase() : c)),
    ]) {
      const parsed = expectSigned(parseScannedCode(variant));
      expect(parsed.text).toBe(text);
      expect(parsed.claims).toEqual(normalized(typical));
      expect(verifySignedCode(parsed, keys, ed25519.verify)).toBe('ok');
    }
  });

  it('accepts one trailing CR, LF or CRLF and surrounding spaces/tabs', () => {
    for (const variant of [`${text}\r\n`, `${text}\n`, `${text}\r`, `  ${text}\t`, `\t ${text} \r\n`, ` ${text} \n`]) {
      expect(expectSigned(parseScannedCode(variant)).text).toBe(text);
    }
  });

  it('strips only one line ending', () => {
    expect(parseScannedCode(`${text}\n\n`)).toEqual({ kind: 'invalid', reason: 'control_characters' });
    expect(parseScannedCode(`${text}\r\n\r\n`)).toEqual({ kind: 'invalid', reason: 'control_characters' });
  });

  it('falls back to imported when an EN code is not a well-formed frame', () => {
    for (const variant of [
      text + 'A',
      text + 'AA',
      text.slice(0, -1),
      text.slice(0, -8),
      `${text.slice(0, 10)}1${text.slice(11)}`,
    ]) {
      expect(parseScannedCode(variant)).toEqual({ kind: 'imported', code: variant });
    }
  });
});

describe('parseScannedCode', () => {
  it('treats other printable strings, including ones starting with EN, as imported codes', () => {
    for (const code of [
      'ENT-1234',
      'EN',
      'en',
      'ENAAAA',
      'TKT-0001',
      '1234567890',
      'Ticket ✓ 🎫',
      'a b  c',
      'x'.repeat(MAX_CODE_LENGTH),
    ]) {
      expect(parseScannedCode(code)).toEqual({ kind: 'imported', code });
    }
  });

  it('trims imported codes the same way as signed ones, preserving case', () => {
    expect(parseScannedCode('  ent-1234\t\r\n')).toEqual({ kind: 'imported', code: 'ent-1234' });
  });

  it("rejects non-strings with 'not_text'", () => {
    for (const input of [
      undefined,
      null,
      42,
      true,
      {},
      [],
      new Uint8Array(3),
      Symbol('x'),
      10n,
      new String('ENT-1'),
      () => 'x',
    ]) {
      expect(parseScannedCode(input)).toEqual({ kind: 'invalid', reason: 'not_text' });
    }
  });

  it("rejects blank input with 'empty'", () => {
    for (const input of ['', ' ', '\t', '\n', '\r\n', ' \t \r']) {
      expect(parseScannedCode(input)).toEqual({ kind: 'invalid', reason: 'empty' });
    }
  });

  it(`rejects more than ${MAX_CODE_LENGTH} characters with 'too_long'`, () => {
    expect(parseScannedCode('x'.repeat(MAX_CODE_LENGTH + 1))).toEqual({ kind: 'invalid', reason: 'too_long' });
    expect(parseScannedCode(`  ${'x'.repeat(MAX_CODE_LENGTH)}  \n`)).toEqual({
      kind: 'imported',
      code: 'x'.repeat(MAX_CODE_LENGTH),
    });
    expect(parseScannedCode('x'.repeat(1_000_000))).toEqual({ kind: 'invalid', reason: 'too_long' });
  });

  it("rejects control characters and lone surrogates with 'control_characters'", () => {
    for (const input of [
      'a\u0000b',
      'a\tb',
      'a\nb',
      'a\rb',
      'ab\u001b',
      'a\u007fb',
      'a\u0080b',
      'a\u0085b',
      'a\u009fb',
      'a\ud800b',
      'a\udc00b',
      '\udfff\ud800',
      'ab\ud83c',
    ]) {
      expect(parseScannedCode(input)).toEqual({ kind: 'invalid', reason: 'control_characters' });
    }
  });

  it('accepts characters just outside the control ranges and paired surrogates', () => {
    for (const code of ['a\u0020b', 'a\u007eb', 'a\u00a0b', 'a\ud83c\udfabb']) {
      expect(parseScannedCode(code)).toEqual({ kind: 'imported', code });
    }
  });
});

describe('issueSignedCode rejects out-of-range claims', () => {
  const sign = (message: Uint8Array) => ed25519.sign(key1.secretKey, message);
  it.each([
    ['keyId 256', { ...typical, keyId: 256 }],
    ['keyId -1', { ...typical, keyId: -1 }],
    ['keyId 1.5', { ...typical, keyId: 1.5 }],
    ['eventRef 0', { ...typical, eventRef: 0 }],
    ['eventRef 2^32', { ...typical, eventRef: 2 ** 32 }],
    ['eventRef NaN', { ...typical, eventRef: Number.NaN }],
    ['ticketSerial 0', { ...typical, ticketSerial: 0 }],
    ['ticketSerial Infinity', { ...typical, ticketSerial: Number.POSITIVE_INFINITY }],
    ['typeRef 65536', { ...typical, typeRef: 65_536 }],
    ['typeRef -1', { ...typical, typeRef: -1 }],
    ['validFrom before 2024', { ...typical, validFrom: EPOCH - 1 }],
    ['validUntil past the last minute', { ...typical, validUntil: EPOCH + (2 ** 32 - 1) * MINUTE + 1 }],
    ['validFrom NaN', { ...typical, validFrom: Number.NaN }],
    ['inverted window', { ...typical, validFrom: EPOCH + 10 * MINUTE, validUntil: EPOCH + 5 * MINUTE }],
    [
      'window inverted within one minute',
      { ...typical, validFrom: EPOCH + 10 * MINUTE + 2, validUntil: EPOCH + 10 * MINUTE + 1 },
    ],
  ])('%s', (_name, claims) => {
    expect(() => issueSignedCode(claims, sign)).toThrow(RangeError);
  });

  it('rejects a signer that does not return 64 bytes', () => {
    expect(() => issueSignedCode(typical, () => new Uint8Array(32))).toThrow(RangeError);
  });

  it('rounds a validUntil just before the epoch up to the epoch', () => {
    const parsed = expectSigned(parseScannedCode(issueSignedCode({ ...typical, validUntil: EPOCH - 1 }, sign)));
    expect(parsed.claims.validUntil).toBe(EPOCH);
    expect(Object.is(parsed.claims.validUntil, EPOCH)).toBe(true);
  });
});

describe('verifySignedCode never throws', () => {
  const parsed = expectSigned(parseScannedCode(issue(typical)));

  it("turns a throwing verifier into 'bad_signature' and a throwing lookup into 'unknown_key'", () => {
    const throwing = () => {
      throw new Error('boom');
    };
    expect(verifySignedCode(parsed, keys, throwing)).toBe('bad_signature');
    expect(verifySignedCode(parsed, throwing, ed25519.verify)).toBe('unknown_key');
  });

  it('does not let a valid signature vouch for altered claims', () => {
    for (const claims of [
      { ...parsed.claims, ticketSerial: parsed.claims.ticketSerial + 1 },
      { ...parsed.claims, validUntil: EPOCH + MINUTE },
      { ...parsed.claims, keyId: 2 },
    ]) {
      expect(verifySignedCode({ ...parsed, claims }, keys, ed25519.verify)).toBe('bad_signature');
    }
    expect(
      verifySignedCode({ ...parsed, claims: { ...parsed.claims, validFrom: undefined } }, keys, ed25519.verify),
    ).toBe('ok');
  });

  it("answers 'bad_signature' for malformed parsed values", () => {
    const bad: unknown[] = [
      null,
      undefined,
      'EN',
      { ...parsed, message: parsed.message.slice(1) },
      { ...parsed, message: 'x' },
      { ...parsed, signature: parsed.signature.slice(1) },
      { ...parsed, claims: null },
      { kind: 'signed' },
    ];
    for (const value of bad) {
      expect(verifySignedCode(value as Signed, keys, ed25519.verify)).toBe('bad_signature');
    }
  });
});

describe('codeDigest', () => {
  const keyA = new Uint8Array(32).fill(1);
  const keyB = new Uint8Array(32).fill(2);

  it('is deterministic, 16 bytes, and differs per key and per code', () => {
    const digest = codeDigest(keyA, 'ENT-1234');
    expect(digest).toHaveLength(16);
    expect(toHex(codeDigest(keyA, 'ENT-1234'))).toBe(toHex(digest));
    expect(toHex(codeDigest(keyB, 'ENT-1234'))).not.toBe(toHex(digest));
    expect(toHex(codeDigest(keyA, 'ENT-1235'))).not.toBe(toHex(digest));
  });

  it('is HMAC-SHA256 truncated to 16 bytes (RFC 4231 test case 2)', () => {
    const key = new TextEncoder().encode('Jefe');
    expect(toHex(codeDigest(key, 'what do ya want for nothing?'))).toBe('5bdcc146bf60754e6a042426089575c7');
  });

  it('hashes the UTF-8 encoding of the code', () => {
    expect(toHex(codeDigest(keyA, 'é'))).toBe(toHex(codeDigest(keyA, '\u00e9')));
    expect(toHex(codeDigest(keyA, 'é'))).not.toBe(toHex(codeDigest(keyA, 'e\u0301')));
  });
});

describe('ed25519', () => {
  // RFC 8032 §7.1, test 1.
  const secretKey = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
  const publicKey = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  const signature = fromHex(
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  );
  const empty = new Uint8Array(0);

  it('matches the RFC 8032 test vector', () => {
    expect(toHex(ed25519.publicKeyOf(secretKey))).toBe(toHex(publicKey));
    expect(toHex(ed25519.sign(secretKey, empty))).toBe(toHex(signature));
    expect(ed25519.verify(publicKey, empty, signature)).toBe(true);
  });

  it('derives key pairs from the supplied randomness only', () => {
    const pair = ed25519.generateKeyPair(() => secretKey);
    expect(toHex(pair.secretKey)).toBe(toHex(secretKey));
    expect(toHex(pair.publicKey)).toBe(toHex(publicKey));
    expect(() => ed25519.generateKeyPair(() => new Uint8Array(31))).toThrow(RangeError);
  });

  it('returns false instead of throwing on malformed keys and signatures', () => {
    const nonCanonicalS = signature.slice();
    nonCanonicalS[63] = 0xff;
    expect(ed25519.verify(publicKey.slice(1), empty, signature)).toBe(false);
    expect(ed25519.verify(publicKey, empty, signature.slice(1))).toBe(false);
    expect(ed25519.verify(new Uint8Array(32).fill(0xff), empty, signature)).toBe(false);
    expect(ed25519.verify(publicKey, empty, nonCanonicalS)).toBe(false);
    expect(ed25519.verify(publicKey, new Uint8Array(1), signature)).toBe(false);
    expect(ed25519.verify(null as unknown as Uint8Array, empty, signature)).toBe(false);
    expect(ed25519.verify(publicKey, 'x' as unknown as Uint8Array, signature)).toBe(false);
  });
});
