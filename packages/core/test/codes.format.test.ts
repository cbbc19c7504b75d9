// Byte-level tests of the wire format and the text encodings it relies on.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase32, encodeBase32 } from '../src/codes/base32.ts';
import { decodeFrame, encodeFrameBody, signingMessage } from '../src/codes/frame.ts';
import {
  ed25519,
  fromBase64Url,
  fromHex,
  issueSignedCode,
  parseScannedCode,
  toBase64Url,
  toHex,
  verifySignedCode,
} from '../src/codes/index.ts';
import { readVarint, writeVarint } from '../src/codes/varint.ts';

const EPOCH = 1_704_067_200_000;
const MINUTE = 60_000;
const utf8 = new TextEncoder();

describe('frame layout', () => {
  // Hand-assembled from the layout documented in frame.ts, independently of the encoder.
  it('encodes header, key id and varints as documented', () => {
    expect(toHex(encodeFrameBody({ keyId: 1, eventRef: 300, ticketSerial: 5, typeRef: 0 }))).toBe('1001ac020500');
    expect(
      toHex(
        encodeFrameBody({
          keyId: 1,
          eventRef: 300,
          ticketSerial: 5,
          typeRef: 0,
          validFrom: EPOCH + MINUTE + 1,
          validUntil: EPOCH + 200 * MINUTE - 5,
        }),
      ),
    ).toBe('1301ac020500' + '01' + 'c801');
    expect(toHex(encodeFrameBody({ keyId: 7, eventRef: 1, ticketSerial: 1, typeRef: 1, validUntil: EPOCH }))).toBe(
      '1207010101' + '00',
    );
    expect(
      toHex(
        encodeFrameBody({ keyId: 255, eventRef: 2 ** 32 - 1, ticketSerial: 128, typeRef: 65_535, validFrom: EPOCH }),
      ),
    ).toBe('11ff' + 'ffffffff0f' + '8001' + 'ffff03' + '00');
  });

  it('signs the domain-separated frame body', () => {
    const body = encodeFrameBody({ keyId: 1, eventRef: 300, ticketSerial: 5, typeRef: 0 });
    expect(toHex(signingMessage(body))).toBe(toHex(utf8.encode('entrada/ticket/v1\n')) + '1001ac020500');
    let signed: Uint8Array | undefined;
    issueSignedCode({ keyId: 1, eventRef: 300, ticketSerial: 5, typeRef: 0 }, (message) => {
      signed = message;
      return new Uint8Array(64);
    });
    expect(toHex(signed!)).toBe(toHex(signingMessage(body)));
  });

  it('renders the text as EN + base32 of body and signature', () => {
    const signature = Uint8Array.from({ length: 64 }, (_, i) => i);
    const text = issueSignedCode({ keyId: 1, eventRef: 300, ticketSerial: 5, typeRef: 0 }, () => signature);
    expect(text).toBe('EN' + encodeBase32(fromHex('1001ac020500' + toHex(signature))));
  });

  // Pinned output of the implementation: guards against accidental format changes.
  it('matches the golden code for a fixed key', () => {
    const secretKey = Uint8Array.from({ length: 32 }, (_, i) => i);
    const publicKey = ed25519.publicKeyOf(secretKey);
    expect(toHex(publicKey)).toBe('03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8');
    const golden =
      'ENCMA2YAQFAAA4QAKEFHN5ZOBVTO2JHFXAYUWQN7QW5ZWIBYFWGIHDIWSNXVOANA2TADENL7OBAQ2RWHGY4EF5LN5TYVAG7JFDSRHNWTDSZY24HZ5EBUJQG';
    const claims = {
      keyId: 1,
      eventRef: 300,
      ticketSerial: 5,
      typeRef: 0,
      validFrom: EPOCH + MINUTE,
      validUntil: EPOCH + 200 * MINUTE,
    };
    expect(issueSignedCode(claims, (m) => ed25519.sign(secretKey, m))).toBe(golden);
    const parsed = parseScannedCode(golden);
    expect(parsed).toMatchObject({ kind: 'signed', claims });
    if (parsed.kind !== 'signed') throw new Error('unreachable');
    expect(verifySignedCode(parsed, () => publicKey, ed25519.verify)).toBe('ok');
  });

  describe('decodeFrame rejects', () => {
    const sig = '00'.repeat(64);
    it.each([
      ['version 0', '0001ac020500' + sig],
      ['version 2', '2001ac020500' + sig],
      ['unknown flag bit 2', '1401ac020500' + sig],
      ['unknown flag bit 3', '1801ac020500' + sig],
      ['eventRef 0', '1001000500' + sig],
      ['ticketSerial 0', '1001ac020000' + sig],
      ['overlong eventRef', '1001ac82000500' + sig],
      ['overlong zero typeRef', '1001ac02058000' + sig],
      ['eventRef above 2^32-1', '10018080808010' + '0500' + sig],
      ['typeRef above 65535', '1001ac0205808004' + sig],
      ['inverted window', '1301ac0205000201' + sig],
      ['missing validUntil', '1201ac020500' + sig],
      ['extra byte before the signature', '1001ac02050000' + sig],
      ['short signature', '1001ac020500' + '00'.repeat(63)],
      ['trailing byte after the signature', '1001ac020500' + sig + '00'],
      ['truncated varint', '1001ac' + '00'.repeat(64)],
      ['empty', ''],
    ])('%s', (_name, hex) => {
      expect(decodeFrame(fromHex(hex))).toBeNull();
    });

    it('accepts the well-formed neighbours of those cases', () => {
      expect(decodeFrame(fromHex('1001ac020500' + sig))).not.toBeNull();
      expect(decodeFrame(fromHex('1001ffffffff0f0500' + sig))).not.toBeNull();
      expect(decodeFrame(fromHex('1001ac0205ffff03' + sig))).not.toBeNull();
      expect(decodeFrame(fromHex('1301ac0205000202' + sig))).not.toBeNull();
    });
  });
});

describe('varint', () => {
  it.each([
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8001'],
    [300, 'ac02'],
    [16_383, 'ff7f'],
    [16_384, '808001'],
    [2 ** 32 - 1, 'ffffffff0f'],
  ])('%i <-> %s', (value, hex) => {
    const out: number[] = [];
    writeVarint(value, out);
    expect(toHex(Uint8Array.from(out))).toBe(hex);
    expect(readVarint(fromHex(hex), 0, 0, 2 ** 32 - 1)).toEqual({ value, next: hex.length / 2 });
  });

  it('round-trips every u32 and reads exactly what was written', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 0xffffffffn }).map(Number),
        fc.uint8Array({ maxLength: 4 }),
        (value, tail) => {
          const out: number[] = [];
          writeVarint(value, out);
          const bytes = Uint8Array.from([...out, ...tail]);
          expect(readVarint(bytes, 0, 0, 0xffffffff)).toEqual({ value, next: out.length });
        },
      ),
    );
  });

  it('accepts only the minimal encoding of in-range values', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 7 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (bytes, max) => {
          const read = readVarint(bytes, 0, 0, max);
          if (read === null) return;
          expect(read.value).toBeLessThanOrEqual(max);
          const out: number[] = [];
          writeVarint(read.value, out);
          expect(toHex(Uint8Array.from(out))).toBe(toHex(bytes.subarray(0, read.next)));
        },
      ),
    );
  });
});

describe('base32', () => {
  // RFC 4648 §10.
  it.each([
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ])('%j <-> %s', (plain, encoded) => {
    expect(encodeBase32(utf8.encode(plain))).toBe(encoded);
    expect(decodeBase32(encoded)).toEqual(utf8.encode(plain));
    expect(decodeBase32(encoded.toLowerCase())).toEqual(utf8.encode(plain));
  });

  it('rejects padding, foreign characters, impossible lengths and non-zero trailing bits', () => {
    for (const text of [
      'MY======',
      'MZ',
      'MZXR',
      'M',
      'MZX',
      'MZXW6Y',
      'MZ1Q',
      'MZ8Q',
      'MZ-Q',
      'MZ Q',
      'MZÉQ',
      'MZXW6YTBO\u0130',
    ]) {
      expect(decodeBase32(text)).toBeNull();
    }
  });

  it('round-trips bytes, and every accepted string is a case variant of the canonical one', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const text = encodeBase32(bytes);
        expect(text).toMatch(/^[A-Z2-7]*$/);
        expect(text).toHaveLength(Math.ceil((bytes.length * 8) / 5));
        expect(decodeBase32(text)).toEqual(bytes);
      }),
    );
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abcxyz01'), maxLength: 40 }),
        (text) => {
          const bytes = decodeBase32(text);
          if (bytes !== null) expect(encodeBase32(bytes)).toBe(text.toUpperCase());
        },
      ),
    );
  });
});

describe('hex', () => {
  it('encodes lower case and decodes either case', () => {
    expect(toHex(Uint8Array.from([0, 1, 0xab, 0xff]))).toBe('0001abff');
    expect(fromHex('0001ABff')).toEqual(Uint8Array.from([0, 1, 0xab, 0xff]));
    expect(fromHex('')).toEqual(new Uint8Array(0));
  });

  it('throws on bad hex', () => {
    for (const bad of ['0', 'abc', 'zz', '0g', ' 00', '0x00', 'éé']) {
      expect(() => fromHex(bad)).toThrow(SyntaxError);
    }
    expect(() => fromHex(7 as unknown as string)).toThrow(SyntaxError);
  });

  it('round-trips', () => {
    fc.assert(
      fc.property(fc.uint8Array(), (bytes) => {
        expect(fromHex(toHex(bytes))).toEqual(bytes);
      }),
    );
  });
});

describe('base64url', () => {
  // RFC 4648 §10, unpadded and with the url-safe alphabet.
  it.each([
    ['', ''],
    ['f', 'Zg'],
    ['fo', 'Zm8'],
    ['foo', 'Zm9v'],
    ['foob', 'Zm9vYg'],
    ['fooba', 'Zm9vYmE'],
    ['foobar', 'Zm9vYmFy'],
  ])('%j <-> %s', (plain, encoded) => {
    expect(toBase64Url(utf8.encode(plain))).toBe(encoded);
    expect(fromBase64Url(encoded)).toEqual(utf8.encode(plain));
  });

  it('uses - and _ instead of + and /', () => {
    expect(toBase64Url(Uint8Array.from([0xfb, 0xff, 0xbf]))).toBe('-_-_');
    expect(fromBase64Url('-_-_')).toEqual(Uint8Array.from([0xfb, 0xff, 0xbf]));
  });

  it('throws on bad input', () => {
    for (const bad of ['Z', 'Zg==', 'Zh', 'Zm9', '+/+/', 'Zm 9v', 'Zm9vé', 'ZZZZZ']) {
      expect(() => fromBase64Url(bad)).toThrow(SyntaxError);
    }
    expect(() => fromBase64Url(null as unknown as string)).toThrow(SyntaxError);
  });

  it('round-trips and agrees with the platform base64 encoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const text = toBase64Url(bytes);
        expect(fromBase64Url(text)).toEqual(bytes);
        const standard = btoa(String.fromCharCode(...bytes));
        expect(text).toBe(standard.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
      }),
    );
  });
});
