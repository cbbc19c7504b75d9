import type { Verdict } from '../model.ts';
import { formatEventTime } from '../time/zoned.ts';

export interface MessageContext {
  timezone: string;
  now: number;
  /** The device that is scanning, to say "this gate" rather than a name. */
  deviceId?: string;
  gateName?: (gateId: string) => string | undefined;
  deviceName?: (deviceId: string) => string | undefined;
  zoneName?: (zoneId: string) => string | undefined;
  /** Gates that would admit this ticket, for "go to …". */
  suggestedGates?: readonly string[];
}

/** Plain words a steward can read at a glance. The result code stays the contract; this is display text. */
const OFFLINE_REASON_WORDS: Record<string, string> = {
  admitted_offline: 'Valid — admitted offline',
  refused_offline: 'Refused at the gate (offline)',
  received_online: 'Already received online',
  quarantined: 'Quarantined for review (device revoked)',
  tampering: 'Refused — altered scan',
  failed: 'Scan failed',
  conflict: 'Conflict — the ticket was already used',
};

export function describeVerdict(verdict: Verdict, ctx: MessageContext): string {
  const at = (ms: number): string => formatEventTime(ms, ctx.timezone, ctx.now);
  const where = (gateId: string | null): string => {
    if (!gateId) return '';
    const name = ctx.gateName?.(gateId);
    return name ? ` at ${name}` : '';
  };
  const prev = verdict.previous;
  switch (verdict.reason) {
    case 'admitted':
      return 'Valid — admit';
    case 're_entry':
      return 'Valid — re-entry';
    case 'exited':
      return 'Valid — exit';
    case 'exit_not_inside':
      return 'Valid — exit (was not inside)';
    case 'forced':
      return 'Valid — accepted by an organiser';
    case 'double_read': {
      const seconds = prev ? Math.max(0, Math.round((ctx.now - prev.at) / 1000)) : 0;
      const verb = prev?.direction === 'exit' ? 'exited' : 'admitted';
      return `Already ${verb} ${seconds} s ago at this gate`;
    }
    case 'already_used':
      return prev ? `Already used${where(prev.gateId)} at ${at(prev.at)}` : 'Already used';
    case 'already_inside':
      return prev ? `Already inside (entered${where(prev.gateId)} at ${at(prev.at)})` : 'Already inside';
    case 'cancelled':
      return 'Ticket cancelled';
    case 'blocked':
      return 'Ticket blocked';
    case 'not_yet_valid':
      return verdict.validFrom != null ? `Not valid until ${at(verdict.validFrom)}` : 'Not valid yet';
    case 'expired':
      return verdict.validUntil != null ? `Expired at ${at(verdict.validUntil)}` : 'No longer valid';
    case 'wrong_gate': {
      const gates = ctx.suggestedGates ?? [];
      return gates.length > 0 ? `Wrong gate — go to ${gates.join(' or ')}` : 'Wrong gate — not valid for this entrance';
    }
    case 'gate_closed': {
      const gates = ctx.suggestedGates ?? [];
      return gates.length > 0 ? `Gate closed — go to ${gates.join(' or ')}` : 'Gate closed — no entry here';
    }
    case 'zone_full': {
      const z = verdict.zone;
      const name = z ? ctx.zoneName?.(z.id) : undefined;
      return `${name ? `${name} is full` : 'Zone full'}${z ? ` (${z.inside}/${z.capacity})` : ''} — wait for someone to leave`;
    }
    case 'wrong_event':
      return 'Ticket is for another event';
    case 'unknown_code':
      return 'Invalid ticket — code not recognised';
    case 'malformed_code':
      return 'Invalid ticket — unreadable code';
    case 'bad_signature':
      return 'Invalid ticket — forged or damaged code';
    case 'unknown_key':
      return 'Invalid ticket — unknown signing key';
  }
  // A stored scan can carry a reason of the offline upload (an online retry of a scan_id whose offline copy arrived
  // first answers the copy's): worded too, so an answer never goes without its message.
  return OFFLINE_REASON_WORDS[verdict.reason as string] ?? 'Scan recorded';
}
