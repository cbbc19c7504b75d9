import { describe, expect, it } from 'vitest';
import vectors from '../vectors/admission.json' with { type: 'json' };
import {
  applyAdmission, decideAdmission, EMPTY_SCAN_STATE, evaluateAdmissionVector, readAdmissionVectors,
} from '../src/index.ts';

const cases = readAdmissionVectors(vectors);

describe('golden admission vectors', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, v) => {
    const verdict = evaluateAdmissionVector(v);
    expect({ result: verdict.result, reason: verdict.reason }).toEqual(v.expect);
  });

  it('the online path (state folded incrementally) agrees with the replay on every vector', () => {
    for (const v of cases) {
      const earlier = v.history.filter((h) => h.at < v.scan.at || (h.at === v.scan.at && h.deviceId < v.scan.deviceId))
        .sort((a, b) => a.at - b.at || (a.deviceId < b.deviceId ? -1 : 1));
      let state = EMPTY_SCAN_STATE;
      for (const h of earlier) {
        const d = decideAdmission({ event: v.event, ticket: v.ticket, type: v.type, gate: h.gate, direction: h.direction, now: h.at, deviceId: h.deviceId, state });
        if (d.admits) state = applyAdmission(state, { at: h.at, direction: h.direction, deviceId: h.deviceId, gateId: h.gate?.id ?? null }, d.reason === 'admitted');
      }
      const verdict = decideAdmission({ event: v.event, ticket: v.ticket, type: v.type, gate: v.scan.gate, direction: v.scan.direction, now: v.scan.at, deviceId: v.scan.deviceId, state });
      expect({ name: v.name, result: verdict.result, reason: verdict.reason }).toEqual({ name: v.name, ...v.expect });
    }
  });

  it('covers every result code', () => {
    const results = new Set(cases.map((c) => c.expect.result));
    for (const r of ['valid', 'duplicate', 'wrong_event', 'wrong_gate', 'cancelled', 'not_valid_now']) expect(results).toContain(r);
  });
});
