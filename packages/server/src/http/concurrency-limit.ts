/**
 * At most `limit` calls run at once; the others wait their turn in arrival
 * order. Used for answers that are built whole in memory (a manifest of
 * 100,000 tickets is ~50 MB of objects and JSON while it is built): 50 devices
 * reconnecting at once must queue, not build 50 at a time and run the
 * process out of heap.
 */
export class ConcurrencyLimit {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next waiter, so a newcomer cannot overtake the queue.
      const next = this.waiting.shift();
      if (next) next(); else this.running--;
    }
  }

  get queued(): number {
    return this.waiting.length;
  }
}
