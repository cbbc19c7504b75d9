import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit } from '../src/http/concurrency-limit.ts';

describe('ConcurrencyLimit', () => {
  it('runs at most N at once, the rest in arrival order, and frees the slot on failure too', async () => {
    const limit = new ConcurrencyLimit(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    const releases: Array<() => void> = [];
    const job = (i: number, fail = false) => limit.run(async () => {
      active++;
      peak = Math.max(peak, active);
      order.push(i);
      await new Promise<void>((r) => releases.push(r));
      active--;
      if (fail) throw new Error(`job ${i}`);
      return i;
    });
    const all = [job(1, true), job(2), job(3), job(4), job(5)].map((p) => p.catch((e: Error) => e.message));
    for (let n = 0; n < 5; n++) {
      await new Promise((r) => setImmediate(r));
      releases.shift()!();
    }
    expect(await Promise.all(all)).toEqual(['job 1', 2, 3, 4, 5]);
    expect(peak).toBe(2);
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(limit.queued).toBe(0);
  });
});
