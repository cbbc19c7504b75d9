/**
 * A ticket type's rules in words, for organisers: "one entry; re-entry after exit;
 * valid Sat 10:00–23:00; zones Main, VIP". Times in the event's time zone.
 * Written once: the events screen and the ticket screen both use it.
 */
import { clock, dayTime, sameDay } from './time.ts';

export interface TicketTypeRules {
  max_scans: number;
  allow_reentry: boolean;
  valid_from: string | null;
  valid_until: string | null;
  zone_ids: readonly string[];
}

const COUNT = ['', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

export function describeTicketType(t: TicketTypeRules, zoneNames: ReadonlyMap<string, string>, tz: string): string {
  const parts: string[] = [];
  const n = t.max_scans;
  parts.push(n === 1 ? 'one entry' : `${COUNT[n] ?? n} entries`);
  parts.push(t.allow_reentry ? 're-entry after exit' : 'no re-entry');
  const from = t.valid_from ? Date.parse(t.valid_from) : null;
  const until = t.valid_until ? Date.parse(t.valid_until) : null;
  if (from !== null && until !== null) {
    parts.push(
      sameDay(from, until, tz)
        ? `valid ${dayTime(from, tz)}–${clock(until, tz)}`
        : `valid ${dayTime(from, tz)} – ${dayTime(until, tz)}`,
    );
  } else if (from !== null) {
    parts.push(`valid from ${dayTime(from, tz)}`);
  } else if (until !== null) {
    parts.push(`valid until ${dayTime(until, tz)}`);
  } else {
    parts.push('valid the whole event');
  }
  const zones = t.zone_ids.map((id) => zoneNames.get(id) ?? 'unknown zone');
  parts.push(zones.length === 0 ? 'no zones' : `${zones.length === 1 ? 'zone' : 'zones'} ${zones.join(', ')}`);
  return parts.join('; ');
}
