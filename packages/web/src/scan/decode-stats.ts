/** Recent per-frame decode times (successful or not), for the diagnostics line and the benchmark. A ring: bounded over a long shift. */
const CAPACITY = 600;
const ring: number[] = [];
let next = 0;

export function recordDecode(ms: number): void {
  if (ring.length < CAPACITY) ring.push(ms);
  else ring[next] = ms;
  next = (next + 1) % CAPACITY;
}

export interface DecodeStats {
  frames: number;
  p50: number;
  p95: number;
  max: number;
}

export function decodeStats(): DecodeStats | null {
  if (ring.length === 0) return null;
  const sorted = [...ring].sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  return { frames: sorted.length, p50: at(0.5), p95: at(0.95), max: sorted.at(-1)! };
}

// Readable from outside the app (benchmarks, a support session in DevTools).
(globalThis as { entradaDecodeStats?: () => DecodeStats | null }).entradaDecodeStats = decodeStats;
