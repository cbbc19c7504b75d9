import { describe, expect, it } from 'vitest';
import vectors from '../vectors/admission.json' with { type: 'json' };
import {
  applyAdmission,
  decideAdmission,
  EMPTY_SCAN_STATE,
  evaluateAdmissionVector,
  readAdmissionVectors,
  ticketStatusAt,
} from '../src/index.ts';

const cases = readAdmissionVectors(vectors);

describe('golden admission vectors', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, v) => {
    const verdict = evaluateAdmissionVector(v);
    expect({ result: verdict.result, reason: verdict.reason }).toEqual(v.expect);
  });

  it('the online path (state folded incrementally) agrees with the replay on every vector', () => {
    for (const v of cases) {
      const earlier = v.history
        .filter((h) => h.at < v.scan.at || (h.at === v.scan.at && h.deviceId < v.scan.deviceId))
        .sort((a, b) => a.at - b.at || (a.deviceId < b.deviceId ? -1 : 1));
      let state = EMPTY_SCAN_STATE;
      for (const h of earlier) {
        const d = decideAdmission({
          event: v.event,
          ticket: v.ticket,
          type: v.type,
          gate: h.gate,
          direction: h.direction,
          now: h.at,
          deviceId: h.deviceId,
          state,
        });
        if (d.admits)
          state = applyAdmission(
            state,
            { at: h.at, direction: h.direction, deviceId: h.deviceId, gateId: h.gate?.id ?? null },
            d.reason === 'admitted',
          );
      }
      const verdict = decideAdmission({
        event: v.event,
        ticket: v.ticket,
        type: v.type,
        gate: v.scan.gate,
        direction: v.scan.direction,
        now: v.scan.at,
        deviceId: v.scan.deviceId,
        state,
      });
      expect({ name: v.name, result: verdict.result, reason: verdict.reason }).toEqual({ name: v.name, ...v.expect });
    }
  });

  it('the status history decides: judged on the status at upload time instead, some of its vectors come out otherwise (control)', () => {
    const withHistory = cases.filter((v) => v.ticket.statusHistory !== undefined);
    expect(withHistory.length).toBeGreaterThanOrEqual(10);
    const differ = withHistory.filter((v) => {
      const { statusHistory: _history, ...current } = v.ticket;
      const verdict = evaluateAdmissionVector({ ...v, ticket: current });
      return verdict.result !== v.expect.result || verdict.reason !== v.expect.reason;
    });
    // A scan while blocked (or cancelled) that is uploaded after the unblock (or reinstatement): admitted on the current status.
    expect(differ.map((v) => v.name)).toContain('scan while blocked, uploaded after the unblock, is blocked');
    expect(differ.length).toBeGreaterThanOrEqual(5);
  });

  it('ticketStatusAt: the change instant belongs to the new status; valid before the first change', () => {
    const ticket = {
      id: 't',
      eventId: 'e',
      status: 'blocked' as const,
      statusChangedAt: 300,
      statusHistory: [
        { at: 100, status: 'blocked' as const },
        { at: 200, status: 'valid' as const },
        { at: 300, status: 'blocked' as const },
      ],
    };
    expect([99, 100, 199, 200, 299, 300].map((at) => ticketStatusAt(ticket, at))).toEqual([
      'valid',
      'blocked',
      'blocked',
      'valid',
      'valid',
      'blocked',
    ]);
    // Without a history only the current status is known: from statusChangedAt on, valid before it (an old manifest).
    expect([99, 299, 300].map((at) => ticketStatusAt({ ...ticket, statusHistory: undefined }, at))).toEqual([
      'valid',
      'valid',
      'blocked',
    ]);
    expect(ticketStatusAt({ id: 't', eventId: 'e', status: 'cancelled', statusChangedAt: null }, 0)).toBe('cancelled');
  });

  it('covers every result code', () => {
    const results = new Set(cases.map((c) => c.expect.result));
    for (const r of ['valid', 'duplicate', 'wrong_event', 'wrong_gate', 'cancelled', 'not_valid_now'])
      expect(results).toContain(r);
  });
});
