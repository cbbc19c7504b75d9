import type { AdmissionContext, GatePolicy, Verdict } from '../model.ts';
import { ticketStatusAt } from './ticket-status.ts';

/**
 * The admission rules: one pure function, used by the server for online scans,
 * by the server's replay of offline uploads and by offline devices.
 *
 * Checks run from the hardest-to-fix problem to the easiest, the way a steward
 * would explain a refusal: wrong event, then ticket status, then gate and time,
 * then the ticket's scan state.
 */
export function decideAdmission(ctx: AdmissionContext): Verdict {
  const { event, ticket, type, gate, direction, now, deviceId, state } = ctx;

  if (ticket.eventId !== event.id) return deny('wrong_event', 'wrong_event');

  // The status at the scan's time: a scan before a cancellation stands, one made while blocked is refused even when
  // it arrives after the unblock (it matters when offline scans arrive late).
  const status = ticketStatusAt(ticket, now);
  if (status !== 'valid') return deny('cancelled', status === 'blocked' ? 'blocked' : 'cancelled');

  if (direction === 'exit') return decideExit(ctx);

  // A closed gate is the first thing to tell: whatever the ticket, this is not the way in. Exits stay free
  // (letting someone out is always right, and occupancy must see them leave).
  if (gate && gate.closedAt != null && now >= gate.closedAt) return deny('wrong_gate', 'gate_closed');
  if (gate && !zonesOverlap(gate.zoneIds, type.zoneIds)) return deny('wrong_gate', 'wrong_gate');

  if (type.validFrom !== null && now < type.validFrom) {
    return {
      result: 'not_valid_now',
      reason: 'not_yet_valid',
      admits: false,
      validFrom: type.validFrom,
      validUntil: type.validUntil,
    };
  }
  if (type.validUntil !== null && now >= type.validUntil) {
    return {
      result: 'not_valid_now',
      reason: 'expired',
      admits: false,
      validFrom: type.validFrom,
      validUntil: type.validUntil,
    };
  }

  const last = state.last;
  if (last && isDoubleRead(last, deviceId, direction, now, event.duplicateWindowMs)) {
    return { result: 'duplicate', reason: 'double_read', admits: false, previous: last };
  }

  // Re-entries are free: a ticket that went out may come back without using an entry.
  if (type.allowReentry && last?.direction === 'exit' && state.entries > 0) {
    return { result: 'valid', reason: 're_entry', admits: true };
  }
  if (state.entries < type.maxScans) return { result: 'valid', reason: 'admitted', admits: true };

  const reason = type.allowReentry && last?.direction === 'entry' ? 'already_inside' : 'already_used';
  return { result: 'duplicate', reason, admits: false, previous: state.first ?? last ?? undefined };
}

function decideExit(ctx: AdmissionContext): Verdict {
  const { state, deviceId, now, event } = ctx;
  const last = state.last;
  if (last && isDoubleRead(last, deviceId, 'exit', now, event.duplicateWindowMs)) {
    return { result: 'duplicate', reason: 'double_read', admits: false, previous: last };
  }
  // Letting someone out is always right; occupancy is per ticket, so it cannot go negative.
  return { result: 'valid', reason: last?.direction === 'entry' ? 'exited' : 'exit_not_inside', admits: true };
}

function isDoubleRead(
  last: { at: number; deviceId: string; direction: string },
  deviceId: string,
  direction: string,
  now: number,
  windowMs: number,
): boolean {
  const age = now - last.at;
  return last.deviceId === deviceId && last.direction === direction && age >= 0 && age < windowMs;
}

/** A gate a ticket of these zones could go in by at `now`: open, sharing a zone ("wrong gate — go to …"). */
export function gateAdmitsZones(gate: GatePolicy, typeZones: readonly string[], now: number): boolean {
  return (gate.closedAt == null || now < gate.closedAt) && zonesOverlap(gate.zoneIds, typeZones);
}

/** Empty on either side means unrestricted, so a simple event needs no zones at all. */
export function zonesOverlap(gateZones: readonly string[], typeZones: readonly string[]): boolean {
  if (gateZones.length === 0 || typeZones.length === 0) return true;
  return gateZones.some((zone) => typeZones.includes(zone));
}

// Refusals with extra fields are written out rather than spread from deny(): on Node 20's V8 an object
// spread followed by more properties costs about 1 µs per property, and replays decide thousands per upload.
function deny(result: Verdict['result'], reason: Verdict['reason']): Verdict {
  return { result, reason, admits: false };
}
