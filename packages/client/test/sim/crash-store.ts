import type { ClientStore } from '../../src/storage/types.ts';
import { MemoryStore, type MemoryBacking } from '../../src/storage/memory-store.ts';

export class CrashError extends Error {
  constructor(where: string) {
    super(`simulated crash: ${where}`);
    this.name = 'CrashError';
  }
}

export type CrashPoint = 'before_outbox_commit' | 'before_ack_commit';

/**
 * A MemoryStore that can "lose power": once dead, every call fails and nothing
 * more reaches the backing, so a new store on the same backing sees exactly
 * what was durable. Armed crash points kill it at the named step, before the
 * write happens.
 */
export function crashableStore(backing: MemoryBacking): {
  store: ClientStore;
  kill: () => void;
  arm: (p: CrashPoint | null) => void;
  readonly dead: boolean;
} {
  const inner = new MemoryStore(backing);
  let dead = false;
  let armed: CrashPoint | null = null;
  const trigger: Partial<Record<keyof ClientStore, CrashPoint>> = {
    appendScan: 'before_outbox_commit',
    acknowledge: 'before_ack_commit',
  };
  const store = new Proxy(inner, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (dead) return Promise.reject(new CrashError(`store used after crash (${String(key)})`));
        const point = trigger[key as keyof ClientStore];
        if (point && armed === point) {
          dead = true;
          return Promise.reject(new CrashError(point));
        }
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as ClientStore;
  return {
    store,
    kill: () => {
      dead = true;
    },
    arm: (p) => {
      armed = p;
    },
    get dead() {
      return dead;
    },
  };
}
