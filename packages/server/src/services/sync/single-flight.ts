/**
 * Concurrent calls with the same key share one run of the work: the first
 * starts it, the others wait for its result (or its error). Nothing is kept
 * once it settles — caching is the caller's business.
 *
 * Each caller says whether it still wants the answer (its client may have
 * gone); the work can ask whether anyone still does before it starts
 * something expensive.
 */
export class SingleFlight<V> {
  private readonly flights = new Map<string, { promise: Promise<V>; wanted: Array<() => boolean> }>();
  private joins = 0;

  /** Calls that joined a run already under way (for tests and metrics). */
  get joined(): number {
    return this.joins;
  }

  run(key: string, wanted: () => boolean, work: (stillWanted: () => boolean) => Promise<V>): Promise<V> {
    const current = this.flights.get(key);
    if (current) {
      current.wanted.push(wanted);
      this.joins++;
      return current.promise;
    }
    const waiters = [wanted];
    // Started on the next microtask, so the flight is registered before any of the work (even a synchronous throw) settles it.
    const promise = Promise.resolve()
      .then(() => work(() => waiters.some((w) => w())))
      .finally(() => this.flights.delete(key));
    this.flights.set(key, { promise, wanted: waiters });
    return promise;
  }
}
