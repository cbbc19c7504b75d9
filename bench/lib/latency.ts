/**
 * Latency recording for benchmarks: every sample is kept (a growable
 * Float64Array, 8 bytes per sample), so percentiles are exact rather than
 * bucketed. A million samples is 8 MB; benchmarks here record far fewer.
 */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export class LatencyRecorder {
  private samples = new Float64Array(16_384);
  private n = 0;
  private sum = 0;

  /** Records one latency, in milliseconds. */
  record(ms: number): void {
    if (this.n === this.samples.length) {
      const bigger = new Float64Array(this.samples.length * 2);
      bigger.set(this.samples);
      this.samples = bigger;
    }
    this.samples[this.n++] = ms;
    this.sum += ms;
  }

  get count(): number {
    return this.n;
  }

  /** Exact percentiles (nearest rank) over every recorded sample. */
  summary(): LatencySummary {
    if (this.n === 0) return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
    const sorted = this.samples.slice(0, this.n).sort();
    return {
      count: this.n,
      min: sorted[0]!,
      mean: this.sum / this.n,
      p50: percentileOfSorted(sorted, 50),
      p90: percentileOfSorted(sorted, 90),
      p99: percentileOfSorted(sorted, 99),
      p999: percentileOfSorted(sorted, 99.9),
      max: sorted[this.n - 1]!,
    };
  }
}

/** Nearest-rank percentile of an ascending array. */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Milliseconds with a precision that suits the magnitude ("0.412", "12.3", "1530"). */
export function fmtMs(ms: number): string {
  if (ms < 10) return ms.toFixed(3);
  if (ms < 100) return ms.toFixed(1);
  return ms.toFixed(0);
}
