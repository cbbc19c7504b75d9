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

/**
 * bytea from a hex string: PostgreSQL's `\x…` input, its backslash escaped
 * for COPY. PostgreSQL rejects anything but hex digits there, so only COPY's
 * own special characters need keeping out (a full hex check cost ~0.35 µs per
 * 32-byte hash, three per scan).
 */
export function copyByteaHex(hex: string | null): string {
  if (hex === null) return COPY_NULL;
  if (SPECIAL.test(hex)) throw new Error('not a hex string');
  return `\\\\x${hex}`;
}

const DAY_MS = 86_400_000;
let memoDay = Number.NaN;
let memoDate = '';

/**
 * timestamptz from epoch milliseconds, in UTC: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
 * The date part is remembered from the previous call (a batch's scans fall on
 * one or two days) and the time of day is plain arithmetic: Date's
 * toISOString took ~0.7 µs per scan. Years past 9999 (a device may send any
 * time up to JavaScript's last date) lose toISOString's `+` sign, which
 * PostgreSQL's input does not take.
 */
export function copyTimestamp(ms: number | null): string {
  if (ms === null) return COPY_NULL;
  if (!Number.isInteger(ms)) return isoUtc(ms);
  const day = Math.floor(ms / DAY_MS);
  if (day !== memoDay) {
    memoDate = isoUtc(day * DAY_MS).slice(0, -13);
    memoDay = day;
  }
  let rest = ms - day * DAY_MS;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  const millis = rest - seconds * 1000;
  return `${memoDate}${pad2(hours)}:${pad2(minutes)}:${pad2(seconds)}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function isoUtc(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.charCodeAt(0) === 0x2b ? iso.slice(1) : iso;
}

/**
 * COPY's input as UTF-8 bytes, appended line by line into one growing buffer.
 * Concatenating a batch's lines into one string gave V8 a rope of thousands
 * of pieces that the driver then flattened (a fresh large string, its pages
 * faulted in), measured for UTF-8 and copied again into a Buffer: ~0.5 µs
 * per scan row more than writing each line into the bytes it ends up as
 * (bench: 1.0 against 1.55 µs per row for building and encoding a sync's 500).
 */
export class CopyLines {
  private buf: Buffer;
  private used = 0;

  /** `expectedBytes`: a guess of the whole size (it grows past it when needed). */
  constructor(expectedBytes: number) {
    this.buf = Buffer.allocUnsafe(Math.max(1024, expectedBytes));
  }

  /** One row: its fields joined by tabs, ending with a newline (the caller's text, written as is). */
  push(line: string): void {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8; write() would cut a line that does not fit.
    const room = line.length * 3;
    if (this.buf.length - this.used < room) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + room));
      this.buf.copy(bigger, 0, 0, this.used);
      this.buf = bigger;
    }
    this.used += this.buf.write(line, this.used, 'utf8');
  }

  /** The lines so far (a view: push no more once it is handed over). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.used);
  }
}
