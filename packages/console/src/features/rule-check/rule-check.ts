/**
 * The rule check's decision, in the browser with core's own functions (the code classifier, the
 * replay of a ticket's scans and the admission rules the server and the scanners run), recording
 * nothing. The ticket's state at the chosen time is rebuilt by replaying its scans made before it.
 */
import {
  classifyScannedCode,
  describeVerdict,
  ed25519,
  fromBase64Url,
  parseScannedCode,
  replayTicket,
  ticketIdOf,
  verifySignedCode,
  gateAdmitsZones,
  verdictTone,
  type Direction,
  type EventPolicy,
  type GatePolicy,
  type KeyLookup,
  type TicketFacts,
  type TicketScanState,
  type TicketTypePolicy,
  type Verdict,
  type VerdictTone,
} from '@entrada/core';
import type { EventDetail, TicketView, TicketWithScans } from '../../api/types.ts';

export interface RuleCheckInput {
  code: string;
  gateId: string | null;
  direction: Direction;
  at: number;
  /** The scanning device (a double read is the same device twice); the console is none by default. */
  deviceId?: string;
}
export interface RuleCheckOutcome {
  verdict: Verdict;
  tone: VerdictTone;
  words: string;
  /** The ticket's state just before `at` (null: no ticket). */
  state: TicketScanState | null;
  ticket: TicketWithScans | null;
  type: TicketTypePolicy | null;
}

const ms = (iso: string | null | undefined): number | null => (iso ? Date.parse(iso) : null);

export function eventPolicy(event: EventDetail): EventPolicy {
  const window = Number((event.settings as { duplicate_window_s?: unknown }).duplicate_window_s ?? 300);
  return { id: event.id, timezone: event.timezone, duplicateWindowMs: (Number.isFinite(window) ? window : 300) * 1000 };
}

function keysOf(event: EventDetail): KeyLookup {
  const keys = new Map(event.keys.map((k) => [k.key_id, fromBase64Url(k.public_key)]));
  return (keyId) => keys.get(keyId);
}

/**
 * Which of the search's answers is the ticket of this code: the server's search matches a whole code by
 * its keyed digest, but also number prefixes and holder names, so a signed code must be the ticket its
 * serial names, and an imported code a ticket it did not match by number or name.
 */
export function ticketOfCode(code: string, found: readonly TicketView[]): TicketView | null {
  const parsed = parseScannedCode(code);
  if (parsed.kind === 'invalid') return null;
  if (parsed.kind === 'signed')
    return found.find((t) => t.id === ticketIdOf(parsed.claims.eventRef, parsed.claims.ticketSerial)) ?? null;
  const text = parsed.code.toLowerCase();
  const byCode = found.filter(
    (t) => !t.number.toLowerCase().startsWith(text) && !(t.holder_name ?? '').toLowerCase().includes(text),
  );
  return byCode.length === 1 ? byCode[0]! : null;
}

export function checkRules(
  event: EventDetail,
  input: RuleCheckInput,
  ticket: TicketWithScans | null,
): RuleCheckOutcome {
  const policy = eventPolicy(event);
  const keys = keysOf(event);
  const parsed = parseScannedCode(input.code);
  // The event's ref is not in its details: a signed code that verifies with this event's keys is this event's.
  const eventRef =
    parsed.kind === 'signed' && verifySignedCode(parsed, keys, ed25519.verify) === 'ok' ? parsed.claims.eventRef : 0;
  const found = classifyScannedCode(
    input.code,
    { eventRef, keys, otherEvents: () => undefined },
    ed25519.verify,
    () => ticket ?? undefined,
    { findProves: true },
  );
  const gates = new Map(event.gates.map((g) => [g.id, g]));
  const policyOf = (g: EventDetail['gates'][number]): GatePolicy => ({
    id: g.id,
    zoneIds: g.zone_ids,
    closedAt: g.closed_at ? Date.parse(g.closed_at) : null,
  });
  const gatePolicy = (id: string | null): GatePolicy | null => {
    const g = id ? gates.get(id) : undefined;
    return g ? policyOf(g) : null;
  };
  const words = (verdict: Verdict, type: TicketTypePolicy | null): string =>
    describeVerdict(verdict, {
      timezone: event.timezone,
      now: input.at,
      gateName: (id) => gates.get(id)?.name,
      suggestedGates: type
        ? event.gates.filter((g) => gateAdmitsZones(policyOf(g), type.zoneIds, input.at)).map((g) => g.name)
        : [],
    });
  if (found.kind === 'refused' || !ticket) {
    const refusal =
      found.kind === 'refused' ? found.refusal : { result: 'invalid_token' as const, reason: 'unknown_code' as const };
    const verdict: Verdict = { result: refusal.result, reason: refusal.reason, admits: false };
    return {
      verdict,
      tone: verdictTone(verdict.reason),
      words: words(verdict, null),
      state: null,
      ticket: null,
      type: null,
    };
  }
  const t = event.ticket_types.find((x) => x.id === ticket.ticket_type_id);
  if (!t) {
    const verdict: Verdict = { result: 'invalid_token', reason: 'unknown_code', admits: false };
    return { verdict, tone: 'stop', words: words(verdict, null), state: null, ticket, type: null };
  }
  const type: TicketTypePolicy = {
    id: t.id,
    name: t.name,
    zoneIds: t.zone_ids,
    maxScans: t.max_scans,
    allowReentry: t.allow_reentry,
    validFrom: ms(t.valid_from),
    validUntil: ms(t.valid_until),
  };
  // With the status history, a scan at a past time is judged on the status then (as the sync judges offline scans).
  const facts: TicketFacts = {
    id: ticket.id,
    eventId: event.id,
    status: ticket.status,
    statusChangedAt: ms(ticket.status_changed_at),
    statusHistory: ticket.status_history.map((c) => ({ at: Date.parse(c.at), status: c.status })),
  };
  const history = ticket.scans.map((s) => ({
    ref: s.id,
    forced: s.reason === 'forced',
    at: Date.parse(s.scanned_at),
    deviceId: s.device_id,
    seq: null as number | null,
    direction: s.direction,
    gate: gatePolicy(s.gate_id),
  }));
  // core's reference evaluation (as the golden vectors run it): the ticket's scans and this one replayed in scan-time
  // order, this one's verdict; later scans cannot change it. A scan that was never made, so it goes last among equals.
  const current = {
    at: input.at,
    deviceId: input.deviceId ?? 'rule-check',
    seq: Number.MAX_SAFE_INTEGER,
    direction: input.direction,
    gate: gatePolicy(input.gateId),
  };
  const base = { event: policy, ticket: facts, type };
  const verdict = replayTicket(base, [...history, current]).outcomes.find((o) => o.scan === current)!.verdict;
  // What is shown as the ticket's state "before this time".
  const { state } = replayTicket(
    base,
    history.filter((s) => s.at < input.at),
  );
  return { verdict, tone: verdictTone(verdict.reason), words: words(verdict, type), state, ticket, type };
}
