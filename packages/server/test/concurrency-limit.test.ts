import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit, QueueFullError } from '../src/http/concurrency-limit.ts';

describe('ConcurrencyLimit', () => {
  it('runs at most N at once, the rest in arrival order, and frees the slot on failure too', async () => {
    const limit = new ConcurrencyLimit(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    const releases: Array<() => void> = [];
    const job = (i: number, fail = false) =>
      limit.run(async () => {
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

describe('ConcurrencyLimit with a bounded queue', () => {
  it('refuses a call at once when every slot is taken and the queue is full, and estimates the wait from past runs', async () => {
    let clock = 0;
    const limit = new ConcurrencyLimit(1, { maxQueued: 1, now: () => clock });
    expect(limit.expectedWaitMs()).toBe(1000);
    await limit.run(async () => {
      clock += 400;
    });
    expect(limit.expectedWaitMs()).toBe(400);
    let release!: () => void;
    const running = limit.run(
      () =>
        new Promise<void>((r) => {
          release = r;
        }),
    );
    const waiting = limit.run(async () => 'second');
    await new Promise((r) => setImmediate(r));
    expect(limit.queued).toBe(1);
    expect(limit.expectedWaitMs()).toBe(800);
    await expect(limit.run(async () => 'third')).rejects.toBeInstanceOf(QueueFullError);
    release();
    await running;
    expect(await waiting).toBe('second');
    expect(await limit.run(async () => 'fourth')).toBe('fourth');
  });
});
