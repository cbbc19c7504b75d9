/** Serialises async operations (a store's writes): each runs after the previous one settles. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(fn, fn);
    // A failed operation must not block the ones behind it.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
