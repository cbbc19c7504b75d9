import { isDeepStrictEqual } from 'node:util';
import type { FastifyInstance } from 'fastify';

/**
 * Fastify's serializer writes what a route's response schema names and
 * coerces it to the declared type: a field the schema misses is silently
 * dropped, a null declared as a string becomes "". With this check (the test
 * suites turn it on with ENTRADA_CHECK_RESPONSES=on), every answer written
 * through a response schema must read back exactly as JSON.stringify would
 * have written it, or the request fails with a 500 and the first difference
 * is logged to stderr, naming the route and the field. Off in production:
 * it serialises every answer twice.
 */
export function checkResponsesAgainstSchemas(app: FastifyInstance): void {
  app.addHook('preSerialization', async (request, reply, payload: unknown) => {
    if (payload === null || typeof payload !== 'object' || Buffer.isBuffer(payload)) return payload;
    const written = reply.serialize(payload);
    if (typeof written !== 'string') return payload;
    const viaSchema: unknown = JSON.parse(written);
    const plain: unknown = JSON.parse(JSON.stringify(payload));
    if (!isDeepStrictEqual(viaSchema, plain)) {
      const where = `${request.method} ${request.routeOptions.url ?? request.url} ${reply.statusCode}`;
      const problem = `${where}: the response schema changes the answer at ${firstDifference(plain, viaSchema, '') ?? '(somewhere)'}`;
      console.error(`response-check: ${problem}`);
      throw new Error(problem);
    }
    return payload;
  });
}

/** The JSON pointer of the first place where `expected` and `actual` differ, and what each holds there. */
function firstDifference(expected: unknown, actual: unknown, path: string): string | null {
  if (isDeepStrictEqual(expected, actual)) return null;
  if (
    expected !== null &&
    actual !== null &&
    typeof expected === 'object' &&
    typeof actual === 'object' &&
    Array.isArray(expected) === Array.isArray(actual)
  ) {
    const e = expected as Record<string, unknown>;
    const a = actual as Record<string, unknown>;
    for (const key of new Set([...Object.keys(e), ...Object.keys(a)])) {
      if (!(key in a)) return `${path}/${key} (dropped)`;
      if (!(key in e)) return `${path}/${key} (added)`;
      const inner = firstDifference(e[key], a[key], `${path}/${key}`);
      if (inner !== null) return inner;
    }
  }
  // Kinds, not values: an answer may hold a token.
  return `${path || '/'} (sent ${kind(expected)}, schema wrote ${kind(actual)})`;
}

const kind = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
