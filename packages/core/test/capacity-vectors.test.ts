import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import vectors from '../vectors/capacity.json' with { type: 'json' };
import {
  applyCapacity,
  decideAdmission,
  describeVerdict,
  EMPTY_SCAN_STATE,
  entryZones,
  overCapacityEntries,
  readCapacityVectors,
  verdictTone,
  type CapacityAdmission,
  type Verdict,
} from '../src/index.ts';

const { online, offline } = readCapacityVectors(vectors);

/** A fresh ticket's verdict at a gate of these zones (core's admission rules), then capacity on it. */
function decideOnline(v: (typeof online)[number]): { verdict: Verdict; overCapacity: string[] } {
  const all = v.zones.map((z) => z.id);
  const verdict = decideAdmission({
    event: { id: 'e', timezone: 'UTC', duplicateWindowMs: 300_000 },
    ticket: { id: 't', eventId: 'e', status: 'valid', statusChangedAt: null },
    type: {
      id: 'ty',
      name: 'T',
      zoneIds: v.typeZones,
      maxScans: 1,
      allowReentry: false,
      validFrom: null,
      validUntil: null,
    },
    gate: { id: 'g', zoneIds: v.gateZones },
    direction: v.direction,
    now: 0,
    deviceId: 'd',
    state: EMPTY_SCAN_STATE,
  });
  const zones = entryZones(v.gateZones, v.typeZones, all).map((id) => v.zones.find((z) => z.id === id)!);
  return applyCapacity(verdict, v.direction, false, zones, (id) => v.zones.find((z) => z.id === id)!.inside);
}

describe('golden capacity vectors', () => {
  it.each(online.map((v) => [v.name, v] as const))('online: %s', (_name, v) => {
    const { verdict, overCapacity } = decideOnline(v);
    expect({ result: verdict.result, reason: verdict.reason, over_capacity: overCapacity }).toEqual(v.expect);
  });

  it.each(offline.map((v) => [v.name, v] as const))('offline: %s', (_name, v) => {
    expect([...overCapacityEntries(v.admissions, v.zones)].sort()).toEqual([...v.expectFlagged].sort());
  });

  it('says which zone is full, in red', () => {
    const full = decideOnline(online.find((v) => v.expect.reason === 'zone_full')!).verdict;
    expect(verdictTone(full.reason)).toBe('stop');
    expect(
      describeVerdict(full, { timezone: 'UTC', now: 0, zoneName: (id) => (id === 'general' ? 'General' : undefined) }),
    ).toBe('General is full (2/2) — wait for someone to leave');
    expect(describeVerdict(full, { timezone: 'UTC', now: 0 })).toBe('Zone full (2/2) — wait for someone to leave');
  });

  it('a person already inside admitted again takes no place, even in a full zone', () => {
    const admitted: Verdict = { result: 'valid', reason: 'admitted', admits: true };
    const zones = [{ id: 'z', capacity: 1, mode: 'enforce' as const }];
    expect(applyCapacity(admitted, 'entry', true, zones, () => 1).verdict).toBe(admitted);
    // Control: the same entry by someone outside is refused.
    expect(applyCapacity(admitted, 'entry', false, zones, () => 1).verdict.reason).toBe('zone_full');
  });

  it('flags the same entries whatever order the admissions come in', () => {
    const admission = fc.record({
      ticket: fc.constantFrom('t1', 't2', 't3', 't4'),
      offsetS: fc.integer({ min: 0, max: 60 }),
      direction: fc.constantFrom<'entry' | 'exit'>('entry', 'entry', 'exit'),
      zones: fc.subarray(['a', 'b']),
    });
    fc.assert(
      fc.property(fc.array(admission, { maxLength: 12 }), fc.array(fc.nat()), (raw, shuffle) => {
        const admissions: CapacityAdmission[] = raw.map((r, i) => ({
          ref: `r${i}`,
          ticketId: r.ticket,
          at: r.offsetS * 1000,
          direction: r.direction,
          zones: r.zones,
        }));
        const zones = [
          { id: 'a', capacity: 1, mode: 'warn' as const },
          { id: 'b', capacity: 2, mode: 'enforce' as const },
        ];
        const shuffled = [...admissions];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = (shuffle[i % Math.max(1, shuffle.length)] ?? 0) % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        expect(overCapacityEntries(shuffled, zones)).toEqual(overCapacityEntries(admissions, zones));
      }),
    );
  });
});
