/**
 * Reads the golden admission vectors (vectors/admission.json) into domain
 * objects, so every package that decides admissions — core, server, client —
 * can prove it decides exactly like the others.
 */
import type {
  Direction,
  EventPolicy,
  GatePolicy,
  TicketFacts,
  TicketStatus,
  TicketTypePolicy,
  Verdict,
} from '../model.ts';
import { replayTicket, type ReplayScan } from '../rules/replay.ts';
import { parseEventTime } from '../time/zoned.ts';

interface RawScan {
  at: string;
  device: string;
  gate: string;
  direction: Direction;
}
interface RawCase {
  name: string;
  event?: { id: string; timezone: string; duplicate_window_s: number };
  gates?: Record<string, { zones: string[]; closed_at?: string | null }>;
  type?: {
    id: string;
    name: string;
    zones: string[];
    max_scans: number;
    allow_reentry: boolean;
    valid_from: string | null;
    valid_until: string | null;
  };
  /** status_history: every status change, oldest first (the last is status since status_changed_at). */
  ticket?: {
    id: string;
    event_id: string;
    status: TicketStatus;
    status_changed_at: string | null;
    status_history?: Array<{ at: string; status: TicketStatus }>;
  };
  history?: RawScan[];
  scan?: RawScan;
  expect: { result: string; reason: string };
}
interface RawVectors {
  defaults: Omit<RawCase, 'name' | 'expect'>;
  cases: RawCase[];
}

export interface AdmissionVector {
  name: string;
  event: EventPolicy;
  ticket: TicketFacts;
  type: TicketTypePolicy;
  history: ReplayScan[];
  scan: ReplayScan;
  expect: { result: string; reason: string };
}

export function readAdmissionVectors(json: unknown): AdmissionVector[] {
  const raw = json as RawVectors;
  return raw.cases.map((c) => {
    const merged = { ...raw.defaults, ...c } as Required<RawCase>;
    const tz = merged.event.timezone;
    const time = (text: string): number => {
      const ms = parseEventTime(text, tz);
      if (ms === null) throw new Error(`vector "${c.name}": bad time ${text}`);
      return ms;
    };
    const gate = (name: string): GatePolicy => {
      const g = merged.gates[name];
      if (!g) throw new Error(`vector "${c.name}": unknown gate ${name}`);
      return { id: name, zoneIds: g.zones, closedAt: g.closed_at == null ? null : time(g.closed_at) };
    };
    const scan = (s: RawScan): ReplayScan => ({
      at: time(s.at),
      deviceId: s.device,
      seq: null,
      direction: s.direction,
      gate: gate(s.gate),
    });
    return {
      name: c.name,
      event: { id: merged.event.id, timezone: tz, duplicateWindowMs: merged.event.duplicate_window_s * 1000 },
      ticket: {
        id: merged.ticket.id,
        eventId: merged.ticket.event_id,
        status: merged.ticket.status,
        statusChangedAt: merged.ticket.status_changed_at === null ? null : time(merged.ticket.status_changed_at),
        ...(merged.ticket.status_history
          ? { statusHistory: merged.ticket.status_history.map((c) => ({ at: time(c.at), status: c.status })) }
          : {}),
      },
      type: {
        id: merged.type.id,
        name: merged.type.name,
        zoneIds: merged.type.zones,
        maxScans: merged.type.max_scans,
        allowReentry: merged.type.allow_reentry,
        validFrom: merged.type.valid_from === null ? null : time(merged.type.valid_from),
        validUntil: merged.type.valid_until === null ? null : time(merged.type.valid_until),
      },
      history: merged.history.map(scan),
      scan: scan(merged.scan),
      expect: c.expect,
    };
  });
}

/** The reference evaluation: replay history plus the scan in scan-time order; the scan's verdict. */
export function evaluateAdmissionVector(v: AdmissionVector): Verdict {
  const current = { ...v.scan, seq: Number.MAX_SAFE_INTEGER };
  const { outcomes } = replayTicket({ event: v.event, ticket: v.ticket, type: v.type }, [...v.history, current]);
  const mine = outcomes.find((o) => o.scan === current);
  if (!mine) throw new Error('scan missing from replay');
  return mine.verdict;
}
