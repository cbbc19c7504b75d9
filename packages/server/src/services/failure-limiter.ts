/**
 * Counts failures per key in a sliding window of fixed buckets. Used for
 * login-like endpoints: a client that keeps failing is slowed down, one that
 * succeeds is never affected.
 */
export class FailureLimiter {
  private readonly hits = new Map<string, number[]>();
  constructor(private readonly opts: { limit: number; windowMs: number }) {}

  record(key: string, now: number): void {
    const list = this.prune(key, now);
    list.push(now);
    this.hits.set(key, list);
    if (this.hits.size > 100_000) this.hits.clear();
  }

  blocked(key: string, now: number): boolean {
    return this.prune(key, now).length >= this.opts.limit;
  }

  /** Milliseconds until `key` is no longer blocked (0 when it is not). */
  retryAfterMs(key: string, now: number): number {
    const list = this.prune(key, now);
    if (list.length < this.opts.limit) return 0;
    // Hits are in time order: unblocked once all but limit - 1 of them have left the window.
    return Math.max(1, list[list.length - this.opts.limit]! + this.opts.windowMs - now);
  }

  /**
   * Takes back one failure recorded at `at`. Callers record an attempt as a
   * failure before its outcome is known (checking and recording in one
   * synchronous step, so parallel requests cannot all slip past the limit)
   * and forgive it when it succeeds.
   */
  forgive(key: string, at: number): void {
    const list = this.hits.get(key);
    const i = list?.lastIndexOf(at) ?? -1;
    if (i < 0) return;
    list!.splice(i, 1);
    if (list!.length === 0) this.hits.delete(key);
  }

  /** Forgets the key's failures (a success on a per-account key). */
  reset(key: string): void {
    this.hits.delete(key);
  }

  private prune(key: string, now: number): number[] {
    const list = (this.hits.get(key) ?? []).filter((t) => now - t < this.opts.windowMs);
    if (list.length === 0) this.hits.delete(key);
    else this.hits.set(key, list);
    return list;
  }
}

/**
 * How long an address or device must wait, from its failures counted in a
 * log every API instance writes (0 while under the limit): until the oldest
 * of them leaves the window, the one time such a count gives.
 */
export function loggedFailuresRetryAfterMs(
  failures: { count: number; oldest: number | null },
  limit: number,
  windowMs: number,
  now: number,
): number {
  if (failures.count < limit) return 0;
  return Math.max(1, (failures.oldest ?? now) + windowMs - now);
}
