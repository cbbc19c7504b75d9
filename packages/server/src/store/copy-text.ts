/**
 * Fields of PostgreSQL's COPY text format, for bulk loads with COPY FROM
 * (Sql.copyRows): one row per line, fields separated by tabs, `\N` for NULL,
 * and a backslash escaping the separators and itself. COPY stores a sync's
 * scan rows for about three quarters of the PostgreSQL CPU of INSERT … SELECT
 * FROM unnest(arrays) (measured 18 against 24 µs per row, docs/benchmarks.md),
 * as it skips the executor's projection of every row.
 */

export const COPY_NULL = '\\N';

const SPECIAL = /[\\\t\n\r]/;
const SPECIALS = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** Any text (uuid and other types whose input function takes text too). */
export function copyText(value: string | null): string {
  if (value === null) return COPY_NULL;
  return SPECIAL.test(value) ? value.replace(SPECIALS, (c) => ESCAPES[c]!) : value;
}

/** A text[] of plain words (flags and other identifiers of ours): `{a,b}`, or an error for anything else. */
export function copyWords(words: readonly string[]): string {
  if (words.length === 0) return '{}';
  for (const w of words) if (!WORD.test(w)) throw new Error(`not a plain word: ${JSON.stringify(w)}`);
  return `{${words.join(',')}}`;
}
const WORD = /^[a-z0-9_]+$/;

/** A finite number (int, bigint, float8). */
export function copyNumber(value: number | null): string {
  if (value === null) return COPY_NULL;
  if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
  return String(value);
}

export function copyBoolean(value: boolean | null): string {
  return value === null ? COPY_NULL : value ? 't' : 'f';
}

const HEX = /^[0-9a-f]*$/i;

/** bytea from a hex string: PostgreSQL's `\x…` input, its backslash escaped for COPY. */
export function copyByteaHex(hex: string | null): string {
  if (hex === null) return COPY_NULL;
  if (!HEX.test(hex)) throw new Error('not a hex string');
  return `\\\\x${hex}`;
}

/**
 * timestamptz from epoch milliseconds, in UTC. Years past 9999 (a device may
 * send any time up to JavaScript's last date) lose toISOString's `+` sign,
 * which PostgreSQL's input does not take.
 */
export function copyTimestamp(ms: number | null): string {
  if (ms === null) return COPY_NULL;
  const iso = new Date(ms).toISOString();
  return iso.charCodeAt(0) === 0x2b ? iso.slice(1) : iso;
}
