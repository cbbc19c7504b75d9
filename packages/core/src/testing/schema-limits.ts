/**
 * Finds where a request schema admits a value PostgreSQL cannot hold: a
 * string that may carry U+0000 (or an unpaired surrogate) or has no length
 * bound, an integer outside a column's range. Core's test runs it over every
 * request schema of the protocol, the server's over every route's body,
 * parameters and query string, so a new field has to be built from
 * `protocol/values.ts`.
 */
import { INT32_MAX, INT32_MIN, MAX_INSTANT_MS } from '../protocol/values.ts';

/** The upper bounds of the 64-bit builders (Int53, EpochMs); any other integer must fit an `integer` column. */
const WIDE_MAXIMUMS = new Set([Number.MAX_SAFE_INTEGER, MAX_INSTANT_MS]);

type JsonSchema = Record<string, unknown>;

/**
 * `path: problem` for every unsafe value in `schema` (JSON Schema as TypeBox
 * or OpenAPI writes it). `loose` lists paths deliberately left open (scanned
 * codes, matched by digest and never stored as text).
 */
export function unsafeSchemaValues(schema: unknown, path = '', loose: ReadonlySet<string> = new Set()): string[] {
  if (typeof schema !== 'object' || schema === null) return [];
  const s = schema as JsonSchema;
  const out: string[] = [];
  const types = Array.isArray(s.type) ? s.type : [s.type];
  if (types.includes('string') && s.const === undefined && s.enum === undefined && !loose.has(path)) {
    const problem = stringProblem(s);
    if (problem) out.push(`${path || '(root)'}: ${problem}`);
  }
  if (types.includes('integer') || types.includes('number')) {
    const problem = integerProblem(s);
    if (problem) out.push(`${path || '(root)'}: ${problem}`);
  }
  if (typeof s.properties === 'object' && s.properties !== null) {
    for (const [name, sub] of Object.entries(s.properties))
      out.push(...unsafeSchemaValues(sub, `${path}/${name}`, loose));
  }
  if (s.items !== undefined) out.push(...unsafeSchemaValues(s.items, `${path}/*`, loose));
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    if (Array.isArray(s[key])) for (const sub of s[key]) out.push(...unsafeSchemaValues(sub, path, loose));
  }
  return out;
}

function stringProblem(s: JsonSchema): string | null {
  if (typeof s.maxLength !== 'number') return 'a string without maxLength';
  if (typeof s.pattern !== 'string') return 'a string without a pattern refusing U+0000';
  const re = new RegExp(s.pattern, 'u');
  for (const bad of ['\u0000', 'a\u0000', '\uD800', 'a\uDFFF']) {
    if (re.test(bad)) return `a pattern admitting ${JSON.stringify(bad)}`;
  }
  return null;
}

function integerProblem(s: JsonSchema): string | null {
  const { minimum, maximum } = s;
  if (typeof minimum !== 'number' || typeof maximum !== 'number') return 'a number without minimum and maximum';
  // Fraction(): 0..1, stored in a `real` column.
  if (s.type === 'number')
    return minimum >= 0 && maximum <= 1 ? null : 'a number that is not an integer (other than a Fraction 0..1)';
  if (WIDE_MAXIMUMS.has(maximum)) return minimum >= 0 ? null : 'a 64-bit integer below 0';
  return minimum >= INT32_MIN && maximum <= INT32_MAX ? null : 'an integer outside −2³¹..2³¹−1';
}
