import { describe, expect, it } from 'vitest';
import vectors from '../vectors/codes.json' with { type: 'json' };
import {
  classifyScannedCode,
  codeVectorScope,
  ed25519,
  evaluateCodeVector,
  readCodeVectors,
  readScannedCode,
  signedCodeText,
} from '../src/index.ts';
import { buildCodeVectors } from './code-vectors.generate.ts';

const v = readCodeVectors(vectors);

describe('golden code-classification vectors', () => {
  it("are the generator's output (fixed keys, deterministic signatures)", () => {
    expect(vectors).toEqual(JSON.parse(JSON.stringify(buildCodeVectors())));
  });

  it.each(v.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(evaluateCodeVector(v, c.code, ed25519.verify)).toEqual(c.expect);
  });

  it("a look-up by serial (a scanner's manifest) gives the same answer when it checks the signature first", () => {
    const scope = codeVectorScope(v);
    const signed = new Map<number, number>();
    const imported = new Map<string, number>();
    for (const t of v.event.tickets) {
      const read = readScannedCode(t.code, scope, ed25519.verify);
      if (read.kind === 'signed') signed.set(read.code.claims.ticketSerial, t.serial);
      else imported.set(t.code, t.serial);
    }
    for (const c of v.cases) {
      const out = classifyScannedCode(
        c.code,
        scope,
        ed25519.verify,
        (code) => (code.kind === 'signed' ? signed.get(code.code.claims.ticketSerial) : imported.get(code.text)),
        { findProves: false },
      );
      const got =
        out.kind === 'ticket' ? { ticket: out.ticket } : { result: out.refusal.result, reason: out.refusal.reason };
      expect({ name: c.name, ...got }).toEqual({ name: c.name, ...c.expect });
    }
  });

  it("the digest shortcut is sound: a signed ticket's digest text is the text the classifier looks up", () => {
    for (const c of v.cases) {
      const read = readScannedCode(c.code, codeVectorScope(v), ed25519.verify);
      if (read.kind === 'signed') expect(signedCodeText(c.code)).toBe(read.text);
    }
  });

  it('covers every kind of code', () => {
    const reasons = new Set(v.cases.map((c) => ('reason' in c.expect ? c.expect.reason : 'ticket')));
    for (const r of ['ticket', 'wrong_event', 'bad_signature', 'unknown_key', 'unknown_code', 'malformed_code'])
      expect(reasons).toContain(r);
  });

  it('answers the same for an organisation that does not know the other event: never wrong_event', () => {
    const stranger = { ...codeVectorScope(v), otherEvents: () => undefined };
    for (const c of v.cases) {
      const read = readScannedCode(c.code, stranger, ed25519.verify);
      if (read.kind === 'other_event') expect(read.refusal).toEqual({ result: 'invalid_token', reason: 'unknown_key' });
    }
  });

  it('never throws, whatever the scope returns', () => {
    const hostile = {
      eventRef: v.event.ref,
      keys: () => {
        throw new Error('x');
      },
      otherEvents: () => {
        throw new Error('y');
      },
    };
    for (const c of v.cases)
      expect(() => classifyScannedCode(c.code, hostile, ed25519.verify, () => undefined)).not.toThrow();
    expect(readScannedCode(42, hostile, ed25519.verify)).toMatchObject({ kind: 'unreadable' });
  });
});
