/**
 * The only place that formats or converts times: always in the event's time zone
 * (core's zoned helpers), with the zone named when it is not obvious.
 */
import { parseEventTime, zoneOffsetMs } from '@entrada/core';

const WEEKDAY = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

interface Wall {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  wd: string;
}

function wall(ms: number, tz: string): Wall {
  const local = new Date(ms + zoneOffsetMs(ms, tz));
  return {
    y: local.getUTCFullYear(),
    mo: local.getUTCMonth() + 1,
    d: local.getUTCDate(),
    h: local.getUTCHours(),
    mi: local.getUTCMinutes(),
    wd: WEEKDAY[local.getUTCDay()]!,
  };
}

const p2 = (n: number): string => String(n).padStart(2, '0');

/** "Sat 10:00" */
export function dayTime(ms: number, tz: string): string {
  const w = wall(ms, tz);
  return `${w.wd} ${p2(w.h)}:${p2(w.mi)}`;
}

/** "10:00" */
export function clock(ms: number, tz: string): string {
  const w = wall(ms, tz);
  return `${p2(w.h)}:${p2(w.mi)}`;
}

/** "Sat 2026-12-12 10:00" */
export function dateTime(iso: string | null | undefined, tz: string): string {
  if (!iso) return '—';
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return '—';
  const w = wall(ms, tz);
  return `${w.wd} ${w.y}-${p2(w.mo)}-${p2(w.d)} ${p2(w.h)}:${p2(w.mi)}`;
}

/** Same local day in the event's zone. */
export function sameDay(a: number, b: number, tz: string): boolean {
  const x = wall(a, tz);
  const y = wall(b, tz);
  return x.y === y.y && x.mo === y.mo && x.d === y.d;
}

/** Value for `<input type="datetime-local">`: the wall time in the event's zone. */
export function toLocalInput(iso: string | null | undefined, tz: string): string {
  if (!iso) return '';
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return '';
  const w = wall(ms, tz);
  return `${w.y}-${p2(w.mo)}-${p2(w.d)}T${p2(w.h)}:${p2(w.mi)}`;
}

/** From `<input type="datetime-local">` read in the event's zone to an ISO instant; null when empty or unreadable. */
export function fromLocalInput(value: string, tz: string): string | null {
  if (!value) return null;
  const ms = parseEventTime(value, tz);
  return ms === null ? null : new Date(ms).toISOString();
}

/** "3 minutes ago" style, for last seen. */
export function ago(iso: string | null | undefined, now: number): string {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} days ago`;
}

/** "2026-12-12 10:00:05" in the event's zone: the scan log and the conflicts inbox compare times to the second. */
export function dateTimeSeconds(iso: string | null | undefined, tz: string): string {
  if (!iso) return '—';
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return '—';
  const local = new Date(ms + zoneOffsetMs(ms, tz));
  return `${local.toISOString().slice(0, 10)} ${local.toISOString().slice(11, 19)}`;
}

/** "+4 min 10 s", "+0 s": how long after the device's time a scan reached the server. */
export function delay(fromIso: string, toIso: string): string {
  const s = Math.round((Date.parse(toIso) - Date.parse(fromIso)) / 1000);
  const sign = s < 0 ? '−' : '+';
  const a = Math.abs(s);
  if (a < 60) return `${sign}${a} s`;
  if (a < 3600) return `${sign}${Math.floor(a / 60)} min ${a % 60} s`;
  if (a < 86_400) return `${sign}${Math.floor(a / 3600)} h ${Math.floor((a % 3600) / 60)} min`;
  return `${sign}${Math.floor(a / 86_400)} d ${Math.floor((a % 86_400) / 3600)} h`;
}

const MONTH = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** "7 Dec 19:02:05" in the event's zone: narrow table cells (the full date is in the cell's title). */
export function shortDateTimeSeconds(iso: string, tz: string): string {
  const full = dateTimeSeconds(iso, tz);
  if (full === '—') return full;
  return `${Number(full.slice(8, 10))} ${MONTH[Number(full.slice(5, 7)) - 1]} ${full.slice(11)}`;
}
