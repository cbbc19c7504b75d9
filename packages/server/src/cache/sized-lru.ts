/**
 * Least-recently-used map bounded by the total size of its values (bytes,
 * as `sizeOf` counts them), not by their number: for values whose sizes vary
 * by orders of magnitude, such as manifests of events of 50 or 100,000 tickets.
 */
export class SizedLru<K, V> {
  private readonly map = new Map<K, { value: V; size: number }>();
  private total = 0;

  constructor(
    private readonly capacity: number,
    private readonly sizeOf: (value: V) => number,
  ) {}

  get(key: K): V | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, entry);
    return entry.value;
  }

  /** Reads without refreshing the entry's recency. */
  peek(key: K): V | undefined {
    return this.map.get(key)?.value;
  }

  /** Stores the value, evicting the least recently used ones; a value larger than the whole capacity is not kept. */
  set(key: K, value: V): void {
    this.delete(key);
    const size = this.sizeOf(value);
    if (size > this.capacity) return;
    this.map.set(key, { value, size });
    this.total += size;
    for (const [oldest, entry] of this.map) {
      if (this.total <= this.capacity) break;
      this.map.delete(oldest);
      this.total -= entry.size;
    }
  }

  clear(): void {
    this.map.clear();
    this.total = 0;
  }

  delete(key: K): void {
    const entry = this.map.get(key);
    if (entry === undefined) return;
    this.map.delete(key);
    this.total -= entry.size;
  }

  get size(): number {
    return this.map.size;
  }

  /** The sum of the sizes of the values held. */
  get bytes(): number {
    return this.total;
  }
}
