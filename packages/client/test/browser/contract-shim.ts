/**
 * A tiny stand-in for the part of Vitest that `store-contract.ts` uses
 * (describe / it / expect with toBe, toEqual, toMatchObject, toBeUndefined,
 * toBeNull and rejects.toThrow), so the contract runs inside a real browser page
 * without Vitest. Also used in Node to learn the check names at collection time.
 *
 * The browser bundle aliases the `vitest` module to this file (see harness.ts).
 */
import type { ContractApi } from '../store-contract.ts';

export type Check = () => Promise<void>;

export interface ContractRegistry {
  api: ContractApi;
  /** Checks in declaration order, keyed by their `it` name. */
  checks: Map<string, Check>;
}

function show(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) =>
      x instanceof Map ? { Map: [...x.entries()] } : x === undefined ? '<undefined>' : x,
    );
  } catch {
    return String(v);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** Like Vitest's toEqual: recursive, and properties holding `undefined` count as absent. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (!isObject(a) || !isObject(b)) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k))) return false;
    return true;
  }
  if (a instanceof Date || b instanceof Date)
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  const keys = (o: Record<string, unknown>) =>
    Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
  const ka = keys(a);
  const kb = keys(b);
  return deepEqual(ka, kb) && ka.every((k) => deepEqual(a[k], b[k]));
}

/** Like Vitest's toMatchObject: every property of `expected` matches, recursively. */
export function matchesObject(actual: unknown, expected: unknown): boolean {
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((e, i) => matchesObject(actual[i], e))
    );
  }
  if (isObject(expected) && !(expected instanceof Map) && !(expected instanceof Date)) {
    return isObject(actual) && Object.keys(expected).every((k) => k in actual && matchesObject(actual[k], expected[k]));
  }
  return deepEqual(actual, expected);
}

class AssertionError extends Error {
  override name = 'AssertionError';
}

const NONE = Symbol('none');

function fail(what: string, actual: unknown, expected: unknown = NONE): never {
  throw new AssertionError(
    expected !== NONE ? `expected ${show(actual)} ${what} ${show(expected)}` : `expected ${show(actual)} ${what}`,
  );
}

function matchers(actual: unknown) {
  return {
    toBe(expected: unknown) {
      if (!Object.is(actual, expected)) fail('to be', actual, expected);
    },
    toEqual(expected: unknown) {
      if (!deepEqual(actual, expected)) fail('to equal', actual, expected);
    },
    toMatchObject(expected: unknown) {
      if (!matchesObject(actual, expected)) fail('to match object', actual, expected);
    },
    toBeUndefined() {
      if (actual !== undefined) fail('to be undefined', actual);
    },
    toBeNull() {
      if (actual !== null) fail('to be null', actual);
    },
    rejects: {
      async toThrow(expected?: string | RegExp) {
        let error: unknown;
        try {
          await actual;
        } catch (e) {
          error = e ?? new Error('rejected with nullish');
        }
        if (error === undefined) fail('to reject', 'a promise that resolved');
        if (expected === undefined) return;
        const message = error instanceof Error ? error.message : String(error);
        const ok = typeof expected === 'string' ? message.includes(expected) : expected.test(message);
        if (!ok) fail('to reject with', message, String(expected));
      },
    },
  };
}

/** A fresh describe/it/expect that records checks instead of running them. */
export function contractRegistry(): ContractRegistry {
  const checks = new Map<string, Check>();
  const prefix: string[] = [];
  const api = {
    describe(name: string, fn: () => void) {
      prefix.push(name);
      try {
        fn();
      } finally {
        prefix.pop();
      }
    },
    it(name: string, fn: Check) {
      if (checks.has(name)) throw new Error(`duplicate check name: ${name}`);
      checks.set(name, fn);
    },
    // Only the matchers above exist; the cast keeps the contract's Vitest typing.
    expect: matchers as unknown as ContractApi['expect'],
  };
  return { api, checks };
}

// Named exports so `import { describe, expect, it } from 'vitest'` resolves in the browser bundle.
const fallback = contractRegistry();
export const describe = fallback.api.describe;
export const it = fallback.api.it;
export const expect = fallback.api.expect;
