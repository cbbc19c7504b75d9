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

  private prune(key: string, now: number): number[] {
    const list = (this.hits.get(key) ?? []).filter((t) => now - t < this.opts.windowMs);
    if (list.length === 0) this.hits.delete(key);
    else this.hits.set(key, list);
    return list;
  }
}
