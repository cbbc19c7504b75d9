/** A call that found the queue full: the caller should answer "busy, retry later" instead of waiting. */
export class QueueFullError extends Error {
  constructor() {
    super('queue full');
    this.name = 'QueueFullError';
  }
}

export interface ConcurrencyLimitOptions {
  /** Calls that may wait for a slot; one more is refused with QueueFullError. Unbounded by default. */
  maxQueued?: number;
  now?: () => number;
}

/**
 * At most `limit` calls run at once; the others wait their turn in arrival
 * order, up to `maxQueued` of them. Used for manifest builds: 50 devices
 * reconnecting at once must not build 50 at a time, and a device must not
 * wait silently past its request budget either — beyond the queue it is told
 * to come back later (503 with Retry-After), which costs it nothing.
 */
export class ConcurrencyLimit {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly maxQueued: number;
  private readonly now: () => number;
  /** Moving average of a call's duration; null until one finished. */
  private averageMs: number | null = null;

  constructor(
    private readonly limit: number,
    options: ConcurrencyLimitOptions = {},
  ) {
    this.maxQueued = options.maxQueued ?? Infinity;
    this.now = options.now ?? Date.now;
  }

  /** Runs `fn` in a slot; rejects with QueueFullError at once when every slot is taken and the queue is full. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) this.running++;
    else if (this.waiting.length >= this.maxQueued) throw new QueueFullError();
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    const started = this.now();
    try {
      return await fn();
    } finally {
      const took = this.now() - started;
      this.averageMs = this.averageMs === null ? took : 0.7 * this.averageMs + 0.3 * took;
      // Hand the slot straight to the next waiter, so a newcomer cannot overtake the queue.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Roughly how long a call made now would wait for a slot (1 s per call before any finished). */
  expectedWaitMs(): number {
    return ((this.averageMs ?? 1000) * (this.waiting.length + 1)) / this.limit;
  }
}
