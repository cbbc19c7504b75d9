/**
 * Event-local time. Validity windows and messages are in the event's time
 * zone, whatever the zone of the server or the scanning device.
 */
import { MAX_INSTANT_MS, MIN_INSTANT_MS } from '../protocol/values.ts';

const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/;
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

const formatters = new Map<string, Intl.DateTimeFormat>();
function partsFormatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timezone, f);
  }
  return f;
}

export function isValidTimeZone(timezone: string): boolean {
  try {
    partsFormatter(timezone);
    return true;
  } catch {
    return false;
  }
}

/** Offset of `timezone` from UTC at instant `epochMs`, in milliseconds. */
export function zoneOffsetMs(epochMs: number, timezone: string): number {
  const parts = partsFormatter(timezone).formatToParts(epochMs);
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const asUtc = utcMs(get('year'), get('month'), get('day'), get('hour'), get('minute'), get('second'), 0);
  return asUtc - Math.floor(epochMs / 1000) * 1000;
}

/**
 * Parses an instant: either ISO 8601 with a zone (`Z` or `+02:00`), or a local
 * date-time without one, read in the event's time zone. Returns null when the
 * text is neither, or when the instant falls outside years 0001 to 9999 (what
 * the protocol's `Instant` admits and the database's ISO text holds).
 */
export function parseEventTime(text: string, timezone: string): number | null {
  const ms = parseTime(text, timezone);
  return ms !== null && ms >= MIN_INSTANT_MS && ms <= MAX_INSTANT_MS ? ms : null;
}

function parseTime(text: string, timezone: string): number | null {
  if (ISO_WITH_ZONE.test(text)) {
    const ms = Date.parse(text);
    return Number.isFinite(ms) ? ms : null;
  }
  const m = LOCAL_DATE_TIME.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac] = m;
  const wallAsUtc = utcMs(
    Number(y),
    Number(mo),
    Number(d),
    Number(h),
    Number(mi),
    Number(s ?? 0),
    Number((frac ?? '0').padEnd(3, '0')),
  );
  if (!Number.isFinite(wallAsUtc)) return null;
  // Two passes settle the offset across a daylight-saving change.
  let guess = wallAsUtc - zoneOffsetMs(wallAsUtc, timezone);
  guess = wallAsUtc - zoneOffsetMs(guess, timezone);
  return guess;
}

/** Date.UTC, but years 0 to 99 are those years (Date.UTC reads them as 1900 to 1999); `month` from 1. */
function utcMs(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
): number {
  const t = new Date(0);
  t.setUTCFullYear(year, month - 1, day);
  t.setUTCHours(hour, minute, second, ms);
  return t.getTime();
}

/** "19:02" in the event's zone; with the date when it is not the same local day as `now`. */
export function formatEventTime(epochMs: number, timezone: string, now: number): string {
  const local = (ms: number): string[] => {
    const parts = partsFormatter(timezone).formatToParts(ms);
    const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
    return [`${get('year')}-${get('month')}-${get('day')}`, `${get('hour')}:${get('minute')}`];
  };
  const [day, time] = local(epochMs);
  const [today] = local(now);
  return day === today ? `${time}` : `${day} ${time}`;
}

/**
 * A formatter of instants as ISO 8601 local time with the zone's offset
 * (`2026-07-04T19:02:03.120+02:00`): what an export shows, readable in the
 * event's zone and still one exact instant. The offset is looked up once per
 * 15-minute slot (every zone's offsets and transitions since 1970 fall on
 * quarter hours), so 100,000 rows cost a few hundred lookups, not 100,000.
 */
export function isoInZone(timezone: string): (epochMs: number) => string {
  const offsets = new Map<number, number>();
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return (epochMs) => {
    const slot = Math.floor(epochMs / 900_000);
    let offset = offsets.get(slot);
    if (offset === undefined) {
      offset = zoneOffsetMs(epochMs, timezone);
      if (offsets.size > 10_000) offsets.clear();
      offsets.set(slot, offset);
    }
    const local = new Date(epochMs + offset).toISOString().slice(0, 23);
    const m = Math.abs(offset) / 60_000;
    return `${local}${offset < 0 ? '-' : '+'}${pad(Math.floor(m / 60))}:${pad(m % 60)}`;
  };
}
