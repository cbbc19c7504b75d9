import type { Clock } from '../../src/clock.ts';

interface Task {
  at: number;
  order: number;
  fn: () => void;
}

/**
 * One virtual timeline for the whole simulation: the server's `now`, every
 * device clock (with its own fixed skew) and the network's late deliveries.
 * Nothing happens on a real timer; time moves only when the simulation says so.
 */
export class Scheduler {
  private t: number;
  private order = 0;
  private readonly tasks = new Map<number, Task>();
  constructor(start: number) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  at(at: number, fn: () => void): number {
    const id = ++this.order;
    this.tasks.set(id, { at: Math.max(at, this.t), order: id, fn });
    return id;
  }
  cancel(id: number): void {
    this.tasks.delete(id);
  }
  get pending(): number {
    return this.tasks.size;
  }
  private earliest(): [number, Task] | undefined {
    let best: [number, Task] | undefined;
    for (const e of this.tasks)
      if (!best || e[1].at < best[1].at || (e[1].at === best[1].at && e[1].order < best[1].order)) best = e;
    return best;
  }
  /** Runs the next task (moving time to it); false when nothing is scheduled. */
  fireNext(limit = Infinity): boolean {
    const next = this.earliest();
    if (!next || next[1].at > limit) return false;
    this.tasks.delete(next[0]);
    this.t = Math.max(this.t, next[1].at);
    next[1].fn();
    return true;
  }
  /** Moves time to `to` without running anything (callers fire due tasks first). */
  setTime(to: number): void {
    this.t = Math.max(this.t, to);
  }
  nextAt(): number | null {
    return this.earliest()?.[1].at ?? null;
  }
}

/** A device's clock: the shared timeline plus a fixed skew. Timers run on the shared timeline. */
export class DeviceClock implements Clock {
  constructor(
    private readonly sched: Scheduler,
    readonly skewMs: number,
  ) {}
  now(): number {
    return this.sched.now() + this.skewMs;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    return this.sched.at(this.sched.now() + Math.max(0, ms), fn);
  }
  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number') this.sched.cancel(handle);
  }
}
