import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../src/services/sync/single-flight.ts';

describe('SingleFlight', () => {
  it('runs concurrent calls with one key once, shares the result or the error, and keeps nothing afterwards', async () => {
    const flights = new SingleFlight<string>();
    let runs = 0;
    let finish!: (v: string) => void;
    const work = () => {
      runs++;
      return new Promise<string>((r) => {
        finish = r;
      });
    };
    const calls = [
      flights.run('k', () => true, work),
      flights.run('k', () => true, work),
      flights.run(
        'other',
        () => true,
        async () => 'x',
      ),
    ];
    await new Promise((r) => setImmediate(r));
    finish('v');
    expect(await Promise.all(calls)).toEqual(['v', 'v', 'x']);
    expect([runs, flights.joined]).toEqual([1, 1]);

    const failing = [
      flights.run(
        'k',
        () => true,
        async () => {
          throw new Error('boom');
        },
      ),
      flights.run('k', () => true, work),
    ];
    for (const p of failing) await expect(p).rejects.toThrow('boom');
    expect(
      await flights.run(
        'k',
        () => true,
        async () => 'fresh',
      ),
    ).toBe('fresh');
  });

  it('tells the work whether anyone still wants the answer', async () => {
    const flights = new SingleFlight<boolean>();
    let first = true;
    let second = true;
    let check!: () => boolean;
    let finish!: () => void;
    const work = (stillWanted: () => boolean) => {
      check = stillWanted;
      return new Promise<boolean>((r) => {
        finish = () => r(stillWanted());
      });
    };
    const a = flights.run('k', () => first, work);
    const b = flights.run('k', () => second, work);
    await new Promise((r) => setImmediate(r));
    first = false;
    expect(check()).toBe(true);
    second = false;
    expect(check()).toBe(false);
    finish();
    expect(await Promise.all([a, b])).toEqual([false, false]);
  });
});
