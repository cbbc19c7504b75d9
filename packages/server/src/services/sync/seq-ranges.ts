import type { SeqRange } from '../../store/device-logs.ts';

export type { SeqRange };

export interface SeqMarks {
  lastSeq: number;
  ackedThrough: number;
  missing: SeqRange[];
}

/**
 * The marks after `received` seqs arrive. Scans above a gap are accepted (they
 * are independent facts); the gap stays reported until filled.
 */
export function advanceMarks(prev: SeqMarks, received: Iterable<number>): SeqMarks {
  const seqs = [...new Set(received)].filter((s) => s >= 1).sort((a, b) => a - b);
  if (seqs.length === 0) return prev;
  const lastSeq = Math.max(prev.lastSeq, seqs.at(-1)!);
  // Holes already known, minus what just arrived.
  let missing: SeqRange[] = [];
  for (const [from, to] of prev.missing) missing.push(...subtract([from, to], seqs));
  // New territory above the previous last seq: every seq not received is a hole.
  let cursor = prev.lastSeq + 1;
  for (const s of seqs) {
    if (s < cursor) continue;
    if (s > cursor) missing.push([cursor, s - 1]);
    cursor = s + 1;
  }
  missing = merge(missing);
  const ackedThrough = missing.length > 0 ? missing[0]![0] - 1 : lastSeq;
  return { lastSeq, ackedThrough, missing };
}

/** The part of `range` not covered by the sorted `seqs`. */
function subtract([from, to]: SeqRange, seqs: number[]): SeqRange[] {
  const out: SeqRange[] = [];
  let start = from;
  for (const s of seqs) {
    if (s < start) continue;
    if (s > to) break;
    if (s > start) out.push([start, s - 1]);
    start = s + 1;
  }
  if (start <= to) out.push([start, to]);
  return out;
}

function merge(ranges: SeqRange[]): SeqRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: SeqRange[] = [];
  for (const r of sorted) {
    const last = out.at(-1);
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

export function missingCount(missing: SeqRange[]): number {
  return missing.reduce((n, [from, to]) => n + (to - from + 1), 0);
}
