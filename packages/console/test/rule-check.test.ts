/** The rule check decides with core's functions: it gives the golden admission vectors' verdicts, and reads codes as the scanners do. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readAdmissionVectors } from '@entrada/core';
import { describe, expect, it } from 'vitest';
import type { EventDetail, TicketWithScans } from '../src/api/types.ts';
import { checkRules, ticketOfCode } from '../src/features/rule-check/rule-check.ts';

const vectors = readAdmissionVectors(
  JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../core/vectors/admission.json'), 'utf8')),
);
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

describe('rule check', () => {
  // Excluded: a ticket of another event cannot be found by this event's ticket search.
  const usable = vectors.filter((v) => v.ticket.eventId === v.event.id);

  it("gives the golden vectors' verdicts", () => {
    expect(usable.length).toBeGreaterThan(10);
    for (const v of usable) {
      const gates = new Map([...v.history, v.scan].map((s) => [s.gate!.id, s.gate!]));
      const event: EventDetail = {
        id: v.event.id,
        name: 'Vectors',
        starts_at: '2026-01-01T00:00:00Z',
        ends_at: '2027-01-01T00:00:00Z',
        timezone: v.event.timezone,
        settings: { duplicate_window_s: v.event.duplicateWindowMs / 1000 },
        created_at: '2026-01-01T00:00:00Z',
        zones: [],
        keys: [],
        gates: [...gates.values()].map((g) => ({
          id: g.id,
          name: g.id,
          zone_ids: [...g.zoneIds],
          closed: g.closedAt != null,
          closed_at: iso(g.closedAt ?? null),
        })),
        ticket_types: [
          {
            id: v.type.id,
            name: v.type.name,
            zone_ids: [...v.type.zoneIds],
            max_scans: v.type.maxScans,
            allow_reentry: v.type.allowReentry,
            valid_from: iso(v.type.validFrom),
            valid_until: iso(v.type.validUntil),
          },
        ],
      };
      const ticket: TicketWithScans = {
        id: v.ticket.id,
        event_id: v.event.id,
        number: '1',
        ticket_type_id: v.type.id,
        tier: v.type.name,
        holder_name: null,
        status: v.ticket.status,
        status_reason: null,
        status_changed_at: iso(v.ticket.statusChangedAt),
        scans_used: 0,
        max_scans: v.type.maxScans,
        inside: false,
        first_scanned_at: null,
        first_scanned_by: null,
        last_scan: null,
        status_history: (v.ticket.statusHistory ?? []).map((c) => ({
          at: new Date(c.at).toISOString(),
          status: c.status,
        })),
        scans: v.history.map((s, i) => ({
          id: `s${i}`,
          result: 'valid',
          reason: 'admitted',
          direction: s.direction,
          device_id: s.deviceId,
          gate_id: s.gate!.id,
          gate_name: null,
          device_name: null,
          session_id: null,
          staff_id: null,
          staff_name: null,
          source: 'offline',
          scanned_at: new Date(s.at).toISOString(),
          received_at: new Date(s.at).toISOString(),
        })),
      };
      const out = checkRules(
        event,
        {
          code: 'IMPORTED-CODE-1',
          gateId: v.scan.gate!.id,
          direction: v.scan.direction,
          at: v.scan.at,
          deviceId: v.scan.deviceId,
        },
        ticket,
      );
      expect({ name: v.name, result: out.verdict.result, reason: out.verdict.reason }).toEqual({
        name: v.name,
        ...v.expect,
      });
    }
  });

  it("reads codes as the scanners do: unreadable, unknown, and a search answer that matched by number is not the code's ticket", () => {
    const event = {
      id: 'e',
      name: 'E',
      starts_at: '',
      ends_at: '',
      timezone: 'UTC',
      settings: {},
      created_at: '',
      zones: [],
      gates: [],
      ticket_types: [],
      keys: [],
    } as EventDetail;
    expect(checkRules(event, { code: '\u0007', gateId: null, direction: 'entry', at: 0 }, null).verdict).toMatchObject({
      result: 'invalid_token',
      reason: 'malformed_code',
    });
    expect(
      checkRules(event, { code: 'NO-SUCH-CODE', gateId: null, direction: 'entry', at: 0 }, null).verdict,
    ).toMatchObject({ result: 'invalid_token', reason: 'unknown_code' });
    const t = { id: 't', number: '1234', holder_name: 'Ada' } as TicketWithScans;
    expect(ticketOfCode('12', [t])).toBeNull();
    expect(ticketOfCode('ABCDEF-77', [t])).toBe(t);
  });
});
