import type { ScanOutcome } from '@entrada/client';
import { describe, expect, it } from 'vitest';
import { pairingCodeFrom } from '../src/device/pairing-code.ts';
import { countOutcome } from '../src/engine/counters.ts';
import { RepeatFilter } from '../src/scan/read-filter.ts';
import { WedgeBuffer } from '../src/scan/wedge.ts';
import { formatAge, present } from '../src/verdict/present.ts';

function outcome(over: Partial<ScanOutcome>): ScanOutcome {
  return {
    source: 'online',
    result: 'valid',
    reason: 'admitted',
    message: 'Valid — admit',
    stale: false,
    expired: false,
    scanId: 's',
    seq: null,
    ticket: { id: 't', number: '12', tier: 'GA', holderName: 'Ada' },
    ...over,
  };
}

describe('verdict presentation', () => {
  it('is green only for a fresh valid verdict, amber for a stale one or a double read, red for every refusal', () => {
    expect(present(outcome({}), { dataAgeMs: 0 })).toMatchObject({
      tone: 'go',
      icon: '✓',
      headline: 'ADMIT',
      who: 'Ada · GA · #12',
      badge: null,
    });
    expect(present(outcome({ source: 'offline', stale: true }), { dataAgeMs: 14 * 60_000 })).toMatchObject({
      tone: 'wait',
      badge: 'Offline · data 14 min old',
    });
    expect(
      present(
        outcome({ result: 'duplicate', reason: 'double_read', message: 'Already admitted 4 s ago at this gate' }),
        { dataAgeMs: 0 },
      ),
    ).toMatchObject({ tone: 'wait', headline: 'JUST SCANNED', detail: 'Already admitted 4 s ago at this gate' });
    for (const [reason, headline] of [
      ['already_used', 'ALREADY USED'],
      ['wrong_gate', 'WRONG GATE'],
      ['cancelled', 'CANCELLED'],
      ['unknown_code', 'INVALID'],
    ] as const) {
      const p = present(outcome({ result: 'invalid_token', reason }), { dataAgeMs: 0 });
      expect(p).toMatchObject({ tone: 'stop', icon: '✕', headline, holdMs: null });
    }
    expect(present(outcome({ reason: 'exited' }), { dataAgeMs: 0 }).headline).toBe('EXIT OK');
    // Ticket data past its expires_at: still a verdict, amber, and the badge says the data expired.
    expect(
      present(outcome({ source: 'offline', stale: true, expired: true }), { dataAgeMs: 13 * 3_600_000 }),
    ).toMatchObject({ tone: 'wait', badge: 'Offline · data EXPIRED (13 h old)' });
    expect(
      present(outcome({ source: 'offline', result: null, reason: null, ticket: null }), { dataAgeMs: null }),
    ).toMatchObject({ tone: 'wait', headline: 'CHECK MANUALLY', badge: 'Offline · no ticket data' });
  });

  it('says ages compactly', () => {
    expect([
      formatAge(4_400),
      formatAge(60_000),
      formatAge(14 * 60_000 + 5_000),
      formatAge(3 * 3_600_000),
      formatAge(185 * 60_000),
    ]).toEqual(['4 s', '1 min', '14 min', '3 h', '3 h 5 min']);
  });
});

describe('reading codes', () => {
  it('ignores a code held in front of the camera until it has been out of view for the window', () => {
    const f = new RepeatFilter(3000);
    expect(f.accept('A', 0)).toBe(true);
    expect(f.accept('A', 500)).toBe(false);
    expect(f.accept('A', 3200)).toBe(false); // still in view: the window keeps moving
    expect(f.accept('B', 3300)).toBe(true);
    expect(f.accept('A', 3400)).toBe(true);
    expect(f.accept('A', 7000)).toBe(true);
  });

  it('takes a fast burst ending in Enter as a wedge scan and ignores human typing', () => {
    const w = new WedgeBuffer(50, 6);
    let t = 0;
    const type = (text: string, gap: number): string | null => {
      let out: string | null = null;
      for (const ch of [...text, 'Enter']) {
        t += gap;
        out = w.key(ch === 'Enter' ? 'Enter' : ch, t) ?? out;
      }
      return out;
    };
    expect(type('ENCAAQCAIBEL', 8)).toBe('ENCAAQCAIBEL');
    expect(type('ENCAAQCAIBEL', 180)).toBeNull();
    expect(type('ABC', 5)).toBeNull();
    expect(w.key('Shift', t + 1)).toBeNull();
  });

  it('finds a pairing code in a pair URL or as typed', () => {
    expect(pairingCodeFrom('https://gate.example/?pair=ABCD-EFGH')).toBe('ABCD-EFGH');
    expect(pairingCodeFrom('  abcd efgh ')).toBe('abcd efgh');
    expect(pairingCodeFrom('ABCDEFGH')).toBe('ABCDEFGH');
    expect(pairingCodeFrom('https://gate.example/')).toBeNull();
    expect(pairingCodeFrom('ENCAAQCAIBELPFNBLFRPRM5QGNWIWDYF5KCKNSTWIX2XQH7MNX')).toBeNull();
    expect(pairingCodeFrom('')).toBeNull();
  });
});

describe('gate counters', () => {
  it('counts admissions, exits and refusals per gate', () => {
    let c = countOutcome({}, 'g1', outcome({}));
    c = countOutcome(c, 'g1', outcome({ reason: 'exited' }));
    c = countOutcome(c, 'g1', outcome({ result: 'invalid_token', reason: 'unknown_code' }));
    c = countOutcome(c, null, outcome({}));
    expect(c).toEqual({ g1: { admitted: 1, exited: 1, refused: 1 }, '-': { admitted: 1, exited: 0, refused: 0 } });
  });
});
