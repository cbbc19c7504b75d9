import {
  applyAdmission,
  decideAdmission,
  describeVerdict,
  type AdmissionRecord,
  type Direction,
  type EventPolicy,
  type GatePolicy,
  type TicketFacts,
  type TicketScanState,
  type TicketTypePolicy,
  type Verdict,
} from '@entrada/core';
import { manifestState, type CodeLookup, type ManifestIndex } from './manifest.ts';
import type { ManifestTicket } from './manifest-types.ts';

/** A scan this device made that the manifest may not reflect yet (pending upload, or an online admission since the last download). */
export interface OwnAdmission {
  at: number;
  direction: Direction;
  gateId: string | null;
  /** `admitted` consumes an entry; re-entries and exits do not. */
  consumesEntry: boolean;
}

export interface LocalDecision {
  verdict: Verdict;
  message: string;
  ticket: ManifestTicket | null;
  /** The code as it will be uploaded (canonical spelling for signed codes). */
  code: string | null;
  /** The manifest is older than the threshold (or expired): the UI shows the verdict in amber. */
  stale: boolean;
  /** The manifest is past its `expires_at` (ManifestIndex.expired): the verdict is given, flagged, and the app asks for a sync. */
  expired: boolean;
}

/** A manifest of another event reached a decision: refused outright, never decided on (its tickets and rules are not this event's). */
export class ManifestEventMismatchError extends Error {
  constructor(
    readonly manifestEventId: string,
    readonly eventId: string,
  ) {
    super(`The stored ticket data is for event ${manifestEventId}, not ${eventId}: not deciding on it`);
    this.name = 'ManifestEventMismatchError';
  }
}

export interface DecisionInput {
  /** The event the device scans for: the manifest must be this event's. */
  eventId: string;
  manifest: ManifestIndex;
  lookup: CodeLookup;
  gateId: string | null;
  direction: Direction;
  now: number;
  deviceId: string;
  own: readonly OwnAdmission[];
  staleAfterMs: number;
}

/**
 * Folds this device's own admissions the manifest does not show yet onto the
 * server's state. The server folds in scan-time order, so an own admission at
 * or before the server's last admission is either already in it or lost to a
 * conflict; only later ones are applied.
 */
export function overlayState(base: TicketScanState, own: readonly OwnAdmission[], deviceId: string): TicketScanState {
  let state = base;
  const ordered = [...own].sort((a, b) => a.at - b.at);
  for (const o of ordered) {
    if (state.last && o.at <= state.last.at) continue;
    const record: AdmissionRecord = { at: o.at, direction: o.direction, deviceId, gateId: o.gateId };
    state = applyAdmission(state, record, o.consumesEntry);
  }
  return state;
}

/** The same rule call the server makes, on what this device knows. Pure. */
export function decideFromParts(parts: {
  event: EventPolicy;
  ticket: TicketFacts;
  type: TicketTypePolicy;
  gate: GatePolicy | null;
  direction: Direction;
  now: number;
  deviceId: string;
  state: TicketScanState;
}): Verdict {
  return decideAdmission(parts);
}

export function decideLocally(input: DecisionInput): LocalDecision {
  const { manifest, lookup, gateId, direction, now, deviceId } = input;
  if (manifest.event.id !== input.eventId || manifest.header.event_id !== input.eventId)
    throw new ManifestEventMismatchError(manifest.header.event_id, input.eventId);
  const expired = manifest.expired(now);
  const stale = expired || now - manifest.refreshedAt > input.staleAfterMs;
  const say = (verdict: Verdict, type?: TicketTypePolicy): string =>
    describeVerdict(verdict, {
      timezone: manifest.event.timezone,
      now,
      deviceId,
      gateName: (id) => manifest.gateName(id),
      // As the server says it: where this ticket can go in.
      suggestedGates: verdict.result === 'wrong_gate' && type ? manifest.gatesFor(type, now) : [],
    });
  if (lookup.kind === 'refused') {
    const verdict: Verdict = { result: lookup.result, reason: lookup.reason, admits: false };
    return { verdict, message: say(verdict), ticket: null, code: lookup.code, stale, expired };
  }
  const { ticket } = lookup;
  const type = manifest.type(ticket.type_id);
  if (!type) {
    // A ticket whose type is missing from this manifest (created after it): refuse rather than guess; the next delta fixes it.
    const verdict: Verdict = { result: 'invalid_token', reason: 'unknown_code', admits: false };
    return { verdict, message: say(verdict), ticket, code: lookup.code, stale, expired };
  }
  const state = overlayState(manifestState(ticket), input.own, deviceId);
  const verdict = decideFromParts({
    event: manifest.event,
    ticket: manifest.facts(ticket),
    type,
    gate: manifest.gate(gateId),
    direction,
    now,
    deviceId,
    state,
  });
  return { verdict, message: say(verdict, type), ticket, code: lookup.code, stale, expired };
}
