/**
 * Requests generated from the OpenAPI document, for test/api-fuzz.test.ts.
 *
 * A case starts from a value valid for the route's schemas (ids and codes
 * taken from pools of real objects, so requests get past 404s into the
 * handlers) and then applies zero to three mutations: a field missing,
 * null, of the wrong type, huge, with a NUL, out of range, a date
 * PostgreSQL cannot hold, deeply nested, or an unknown field; and request
 * mutations: another principal, another content type or encoding, invalid
 * JSON, bad path parameters and query strings, an oversized header.
 *
 * Free-text values carry MARK, which the test replaces with a marker unique
 * to the case: finding a marker in the server's log shows which request's
 * values leaked there.
 */
import fc from 'fast-check';

/** The parts of JSON Schema (as @fastify/swagger writes it into OpenAPI 3.0) the generator reads. */
export interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  nullable?: boolean;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  description?: string;
}

/** Replaced in the request text by the case's marker (MARKER_LENGTH characters). */
export const MARK = '@@MARK@@@@@@';
export const MARKER_LENGTH = MARK.length;

/** `FzQ` + route (2 base-36 digits) + case (5) + `Qz`: 12 characters, never a substring of another marker. */
export function marker(route: number, index: number): string {
  return `FzQ${route.toString(36).padStart(2, '0')}${index.toString(36).padStart(5, '0')}Qz`;
}

export interface GenContext {
  /** Real values for a field of this name (ids, codes, the device's own id…), or undefined. */
  pool(name: string): readonly string[] | undefined;
  /** A fixed "now" (ms) for dates: the cases depend on the seed only. */
  now: number;
}

const DAY = 86_400_000;
const TIME_FIELDS = /(_at|^device_time|_from|_until)$/;

const isInstant = (s: JsonSchema, name: string): boolean =>
  /ISO 8601/.test(s.description ?? '') || (TIME_FIELDS.test(name) && s.type === 'string');

/** Values the schema accepts, biased towards real objects and the schema's own bounds. */
export function validValue(schema: JsonSchema, name: string, ctx: GenContext): fc.Arbitrary<unknown> {
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((s) => validValue(s, name, ctx)));
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const base = baseValue(schema, name, ctx);
  return schema.nullable ? fc.oneof({ weight: 4, arbitrary: base }, { weight: 1, arbitrary: fc.constant(null) }) : base;
}

function baseValue(schema: JsonSchema, name: string, ctx: GenContext): fc.Arbitrary<unknown> {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string':
      return stringValue(schema, name, ctx);
    case 'integer':
    case 'number':
      return numberValue(schema, name, ctx);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const items = validValue(schema.items ?? {}, name, ctx);
      const constraints = {
        minLength: schema.minItems ?? 0,
        maxLength: Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? 4, 4)),
      };
      return schema.uniqueItems
        ? fc.uniqueArray(items, { ...constraints, selector: (v) => JSON.stringify(v) })
        : fc.array(items, constraints);
    }
    case 'object': {
      const props = schema.properties ?? {};
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, s] of Object.entries(props)) model[key] = validValue(s, key, ctx);
      return fc.record(model, { requiredKeys: (schema.required ?? []).filter((k) => k in props) });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** A marker as the request will carry it, to check a pattern accepts strings that carry one. */
const SAMPLE_MARKER = marker(0, 0);
const FILLER = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'];

function stringValue(schema: JsonSchema, name: string, ctx: GenContext): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? 200;
  // JSON Schema patterns are matched with the u flag (Ajv).
  const re = schema.pattern ? new RegExp(schema.pattern, 'u') : null;
  const fits = (s: string): boolean => s.length >= min && s.length <= max && (re === null || re.test(s));
  const least = Math.max(0, min - MARKER_LENGTH);
  let free: fc.Arbitrary<string>;
  if (schema.format === 'uuid') free = fc.uuid();
  else if (isInstant(schema, name)) free = instant(ctx.now);
  else if (max >= MARKER_LENGTH && fits(SAMPLE_MARKER + 'a'.repeat(least))) {
    // Free text carries the case's marker; where a pattern allows it (most say only "no NUL"), with filler it accepts too.
    const filler =
      re === null
        ? fc.string({ minLength: least, maxLength: Math.max(least, Math.min(16, max - MARKER_LENGTH)) })
        : fc.string({
            unit: fc.constantFrom(...FILLER),
            minLength: least,
            maxLength: Math.max(least, Math.min(16, max - MARKER_LENGTH)),
          });
    free = filler.map((s) => MARK + s).filter((s) => fits(s.replace(MARK, SAMPLE_MARKER)));
  } else if (schema.pattern) free = matching(schema.pattern, fits);
  else free = fc.string({ minLength: min, maxLength: max });
  const pool = ctx.pool(name);
  return pool && pool.length > 0
    ? fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: free })
    : free;
}

/** Strings of a pattern; fast-check reads no lookaround, so those are left out of the generator and checked after. */
function matching(pattern: string, fits: (s: string) => boolean): fc.Arbitrary<string> {
  try {
    return fc.stringMatching(new RegExp(pattern.replace(/\(\?<?[=!][^()]*\)/g, ''))).filter(fits);
  } catch {
    // A pattern the generator cannot read: a value it refuses is still a case.
    return fc.constant('');
  }
}

/** A date around now: an ISO instant, with an offset, or a local date-time (read in the event's zone). */
function instant(now: number): fc.Arbitrary<string> {
  return fc
    .tuple(fc.integer({ min: -20 * DAY, max: 20 * DAY }), fc.constantFrom('z', 'offset', 'local'))
    .map(([delta, form]) => {
      const iso = new Date(now + delta).toISOString();
      if (form === 'offset') return `${iso.slice(0, 19)}+02:00`;
      return form === 'local' ? iso.slice(0, 16) : iso;
    });
}

function numberValue(schema: JsonSchema, name: string, ctx: GenContext): fc.Arbitrary<number> {
  const lo = schema.minimum ?? -1000;
  const hi = schema.maximum ?? Number.MAX_SAFE_INTEGER;
  const within = (a: number, b: number): fc.Arbitrary<number> => {
    const [min, max] = [Math.max(lo, a), Math.min(hi, b)];
    return min <= max ? fc.integer({ min, max }) : fc.constantFrom(lo, hi);
  };
  // Device clocks and log times: around now, so the event and the ticket windows matter.
  if (/(_at|_time)$/.test(name))
    return fc.oneof(
      { weight: 6, arbitrary: within(ctx.now - 2 * DAY, ctx.now + DAY) },
      { weight: 1, arbitrary: fc.constantFrom(lo, hi) },
    );
  if (/seq$/.test(name))
    return fc.oneof({ weight: 6, arbitrary: within(lo, lo + 40) }, { weight: 1, arbitrary: fc.constant(hi) });
  return fc.oneof({ weight: 6, arbitrary: within(lo, lo + 1000) }, { weight: 1, arbitrary: fc.constantFrom(lo, hi) });
}

// ---------------------------------------------------------------------------
// Mutations of a valid value.

/** Written into the request text as is: numbers JSON.stringify cannot spell, and nesting too deep to build. */
export class Raw {
  constructor(readonly text: string) {}
}

export const MUTATIONS = [
  'missing',
  'null',
  'wrong-type',
  'huge-string',
  'nul',
  'out-of-range',
  'bad-instant',
  'deep',
  'extra-property',
  'unicode',
  'huge-array',
  'duplicate-item',
] as const;
export type MutationKind = (typeof MUTATIONS)[number];
export interface Mutation {
  kind: MutationKind;
  at: number;
  variant: number;
}

export const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom(...MUTATIONS),
  at: fc.nat(),
  variant: fc.nat(),
});

const WRONG_TYPES: unknown[] = [0, -1, 1.5, true, false, 'x', '', [], {}, [null], { a: 1 }, MARK];
const HUGE_LENGTHS = [257, 5_000, 70_000, 1_100_000];
const OUT_OF_RANGE = [
  2 ** 31,
  2 ** 31 - 1,
  2 ** 32,
  -1,
  -(2 ** 31) - 1,
  1.5,
  0.1,
  1e21,
  -1e21,
  1e308,
  8_640_000_000_001,
  -8_640_000_000_001,
  0,
  new Raw('9007199254740993'),
  new Raw('-0'),
  new Raw('1e400'),
  new Raw('123456789012345678901234567890'),
];
const BAD_INSTANTS = [
  '0000-01-01T00:00:00Z',
  '-200000-01-01T00:00:00Z',
  '+275760-09-13T00:00:00.000Z',
  '-271821-04-20T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '0001-01-01T00:00:00Z',
  '2026-02-30T25:61:00Z',
  '1969-12-31T23:59:59Z',
  'infinity',
  '-infinity',
  'epoch',
  'now',
  '2026-07-01T20:00:00+99:00',
  '2026-07-01',
  `${MARK}-01-01T00:00:00Z`,
  '2026-07-01T20:00:00.123456789Z',
];
const DEPTHS = [64, 1_000, 20_000];
const EXTRA_KEYS = [MARK, '__proto__', 'constructor', 'prototype', '', '$ref'];
const UNICODE = ['\ud800', '\udfff', '\uffff', '\u202e', '😀'.repeat(50), 'e\u0301'.repeat(40), '\u0085', '\u2028'];
const HUGE_ARRAYS = [5_001, 10_001, 100_001];

type Container = Record<string, unknown> | unknown[];

/** Every node of the value, as (container, key) pairs, a shared object once; the root is held in a box. */
function nodes(box: { root: unknown }): Array<[Container, string | number]> {
  const out: Array<[Container, string | number]> = [[box as unknown as Container, 'root']];
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object' || v instanceof Raw || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v))
      v.forEach((item, i) => {
        out.push([v, i]);
        walk(item);
      });
    else
      for (const k of Object.keys(v)) {
        out.push([v as Record<string, unknown>, k]);
        walk((v as Record<string, unknown>)[k]);
      }
  };
  walk(box.root);
  return out;
}

const pick = <T>(list: readonly T[], n: number): T => list[n % list.length]!;

const DATE_LIKE = /^[+-]?\d{4,6}-\d\d-\d\d/;

function fits(kind: MutationKind, key: string | number, v: unknown, isRoot: boolean): boolean {
  switch (kind) {
    case 'nul':
    case 'huge-string':
    case 'unicode':
      return typeof v === 'string';
    case 'out-of-range':
      return typeof v === 'number';
    case 'bad-instant':
      return (
        (typeof v === 'string' && DATE_LIKE.test(v)) || (typeof key === 'string' && /(_at|_from|_until)$/.test(key))
      );
    case 'huge-array':
    case 'duplicate-item':
      return Array.isArray(v);
    case 'extra-property':
      return v !== null && typeof v === 'object' && !Array.isArray(v);
    case 'missing':
      return typeof key === 'string' && !isRoot;
    default:
      return true;
  }
}

/** Applies the mutations in order; returns the new value and a short description of each. */
export function mutate(value: unknown, mutations: readonly Mutation[]): { value: unknown; notes: string[] } {
  const box = { root: structuredClone(value) };
  const notes: string[] = [];
  for (const m of mutations) {
    const all = nodes(box);
    // Each kind aims at the nodes it means something for (a NUL at strings, a huge number at numbers…), when there are any.
    const fitting = all.filter(([c, k]) =>
      fits(m.kind, k, (c as Record<string | number, unknown>)[k], c === (box as unknown)),
    );
    const [container, key] = pick(fitting.length > 0 ? fitting : all, m.at);
    const get = (): unknown => (container as Record<string | number, unknown>)[key];
    const set = (v: unknown): void => {
      (container as Record<string | number, unknown>)[key] = v;
    };
    const where = key === 'root' && container === (box as unknown) ? '(body)' : String(key);
    switch (m.kind) {
      case 'missing':
        if (Array.isArray(container)) container.splice(key as number, 1);
        else if (container === (box as unknown)) box.root = undefined;
        else delete (container as Record<string, unknown>)[key];
        break;
      case 'null':
        set(null);
        break;
      case 'wrong-type':
        set(structuredClone(pick(WRONG_TYPES, m.variant)));
        break;
      case 'huge-string': {
        const n = pick(HUGE_LENGTHS, m.variant);
        set(MARK + 'x'.repeat(n - MARKER_LENGTH));
        notes.push(`${where}: ${n}-char string`);
        continue;
      }
      case 'nul': {
        const v = get();
        // After the marker, which must stay whole.
        const from = typeof v === 'string' && v.startsWith(MARK) ? MARKER_LENGTH : 0;
        const at = typeof v === 'string' ? from + (m.variant % (v.length - from + 1)) : 0;
        set(typeof v === 'string' ? `${v.slice(0, at)}\u0000${v.slice(at)}` : `${MARK}\u0000`);
        break;
      }
      case 'out-of-range':
        set(pick(OUT_OF_RANGE, m.variant));
        break;
      case 'bad-instant':
        set(pick(BAD_INSTANTS, m.variant));
        break;
      case 'deep': {
        const depth = pick(DEPTHS, m.variant);
        set(
          m.variant % 2 === 0
            ? new Raw(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`)
            : new Raw(`${'['.repeat(depth)}1${']'.repeat(depth)}`),
        );
        notes.push(`${where}: nested ${depth} deep`);
        continue;
      }
      case 'extra-property': {
        const v = get();
        const k = pick(EXTRA_KEYS, m.variant);
        if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Raw)) {
          // defineProperty: a plain assignment of "__proto__" would set the prototype instead of a key.
          Object.defineProperty(v, k, {
            value: k === '__proto__' ? { polluted: MARK } : MARK,
            enumerable: true,
            configurable: true,
            writable: true,
          });
        } else {
          set({ [MARK]: v });
        }
        notes.push(`${where}: extra property "${k}"`);
        continue;
      }
      case 'unicode': {
        const v = get();
        const u = pick(UNICODE, m.variant);
        set(typeof v === 'string' ? v + u : MARK + u);
        break;
      }
      case 'huge-array': {
        const n = pick(HUGE_ARRAYS, m.variant);
        const v = get();
        const first = Array.isArray(v) && v.length > 0 ? v[0] : (v ?? MARK);
        // At most a few MB in all: huge arrays of huge strings say nothing more.
        const item = (toJson(first)?.length ?? 0) * n <= 8_000_000 ? first : MARK;
        set(new Array(n).fill(item));
        notes.push(`${where}: array of ${n}`);
        // Its items are one shared object: a further mutation inside would be multiplied n times.
        return { value: box.root, notes };
      }
      case 'duplicate-item': {
        const v = get();
        set(Array.isArray(v) ? [...v, ...v.slice(0, 1), ...(v.length === 0 ? [MARK, MARK] : [])] : [v, v]);
        break;
      }
    }
    notes.push(`${where}: ${m.kind}${describeValue(get())}`);
  }
  return { value: box.root, notes };
}

function describeValue(v: unknown): string {
  if (v === undefined) return '';
  if (v instanceof Raw) return ` ${v.text.slice(0, 40)}`;
  const text = JSON.stringify(v) ?? String(v);
  return ` ${text.length > 60 ? `${text.slice(0, 60)}…` : text}`;
}

/** JSON text of a value that may hold Raw pieces; shared arrays (huge-array) are written once per item. */
export function toJson(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) {
    const parts = new Array<string>(v.length);
    let last: unknown = Symbol('none');
    let lastText = '';
    for (let i = 0; i < v.length; i++) {
      if (v[i] !== last) {
        last = v[i];
        lastText = toJson(v[i]) ?? 'null';
      }
      parts[i] = lastText;
    }
    return `[${parts.join(',')}]`;
  }
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .flatMap((k) => {
        const item = (v as Record<string, unknown>)[k];
        return item === undefined ? [] : [`${JSON.stringify(k)}:${toJson(item)}`];
      })
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

// ---------------------------------------------------------------------------
// Request-level mutations.

export type AuthKind = 'right' | 'none' | 'malformed' | 'wrong-token' | 'other-kind' | 'cross-org';

export const authArb: fc.Arbitrary<AuthKind> = fc.oneof(
  { weight: 30, arbitrary: fc.constant<AuthKind>('right') },
  { weight: 2, arbitrary: fc.constant<AuthKind>('none') },
  { weight: 1, arbitrary: fc.constant<AuthKind>('malformed') },
  { weight: 2, arbitrary: fc.constant<AuthKind>('wrong-token') },
  { weight: 1, arbitrary: fc.constant<AuthKind>('other-kind') },
  { weight: 4, arbitrary: fc.constant<AuthKind>('cross-org') },
);

export const MALFORMED_AUTH = [
  'Basic dXNlcjpwYXNz',
  'Bearer',
  'Bearer ',
  'Bearer a b',
  `Token ${MARK}`,
  `Bearer ${'x'.repeat(10_000)}${MARK}`,
  'Bearer \t',
];

export const CONTENT_TYPES: Array<string | null> = [
  null,
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/jsonp',
  'application/xml',
  '*/*',
  'APPLICATION/JSON',
  'application/json, text/plain',
  `application/json; charset=utf-8; x=${'y'.repeat(2_000)}`,
];

export const INVALID_JSON = [
  '',
  '{',
  '{"a":}',
  '\ufeff{}',
  'null',
  '[]',
  '"x"',
  '1e999',
  'true',
  '{"a":1}garbage',
  `{"__proto__":{"polluted":"${MARK}"}}`,
  `{"constructor":{"prototype":{"polluted":"${MARK}"}}}`,
  '{"a":"\\ud800"}',
  `{"a":"${MARK}\\u0000"}`,
  "{'a':1}",
  'NaN',
  '['.repeat(100_000),
  `{"${MARK}":1,"${MARK}":2}`,
  '\u0000',
  '{"a":1,}',
];

export type Encoding = 'gzip' | 'gzip-garbage' | 'gzip-bomb' | 'deflate' | 'br';
export const ENCODINGS: Encoding[] = ['gzip', 'gzip-garbage', 'gzip-bomb', 'deflate', 'br'];

/** Written into the path as is; UNICODE_TWIN stands for the valid value with its letters and digits made 'é'. */
export const UNICODE_TWIN = '<unicode twin>';
export const BAD_PATH_VALUES = [
  '%00',
  '%ZZ',
  'x'.repeat(10_000),
  '%2e%2e%2f%2e%2e',
  '..',
  '%C3%A9',
  '%F0%9F%98%80',
  '%FF',
  "'%20OR%201=1--",
  '-1',
  'null',
  '%20',
  '%0A',
  '{id}',
  UNICODE_TWIN,
];
/** 'unicode': a value as long as the valid one in characters, not in bytes (a check that counts one and uses the other). */
export const BAD_QUERIES = [
  'dup',
  '%00',
  '%ZZ',
  'long',
  'unknown',
  'empty',
  'bracket',
  'proto',
  'drop',
  'unicode',
] as const;

/** The same number of characters, each letter or digit two bytes in UTF-8. */
export function unicodeTwin(value: string): string {
  return value.replace(/[A-Za-z0-9_]/g, 'é');
}
export type BadQuery = (typeof BAD_QUERIES)[number];

export interface RequestPlan {
  auth: AuthKind;
  /** For routes open to admins and devices: which of the two is "right" here. */
  asDevice: boolean;
  authVariant: number;
  body: { kind: 'value'; value: unknown; mutations: Mutation[] } | { kind: 'none' } | { kind: 'raw'; text: string };
  /** undefined: application/json when there is a body. */
  contentType: string | null | undefined;
  encoding: Encoding | null;
  pathParams: Record<string, string>;
  badPath: { param: number; value: string } | null;
  query: Record<string, string>;
  badQuery: { kind: BadQuery; variant: number } | null;
  hugeHeader: boolean;
  markedHeaders: boolean;
}

export interface RouteShape {
  method: string;
  body: JsonSchema | null;
  path: Array<{ name: string; schema: JsonSchema }>;
  query: Array<{ name: string; schema: JsonSchema; required: boolean }>;
}

const sometimes = <T>(arb: fc.Arbitrary<T>, weightOfNone: number): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: weightOfNone, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });

export function requestArb(route: RouteShape, ctx: GenContext): fc.Arbitrary<RequestPlan> {
  const pathModel: Record<string, fc.Arbitrary<unknown>> = {};
  for (const p of route.path) pathModel[p.name] = validValue(p.schema, p.name, ctx);
  const queryModel: Record<string, fc.Arbitrary<unknown>> = {};
  for (const q of route.query) queryModel[q.name] = validValue(q.schema, q.name, ctx);
  const requiredQuery = route.query.filter((q) => q.required).map((q) => q.name);

  const valueBody =
    route.body === null
      ? fc.oneof(
          { weight: 9, arbitrary: fc.constant({ kind: 'none' as const }) },
          {
            weight: 1,
            arbitrary: fc.jsonValue({ maxDepth: 2 }).map((value) => ({ kind: 'value' as const, value, mutations: [] })),
          },
        )
      : fc
          .tuple(
            validValue(route.body, '', ctx),
            fc.oneof(
              { weight: 2, arbitrary: fc.constant<Mutation[]>([]) },
              { weight: 6, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 1 }) },
              { weight: 2, arbitrary: fc.array(mutationArb, { minLength: 2, maxLength: 3 }) },
            ),
          )
          .map(([value, mutations]) => ({ kind: 'value' as const, value, mutations }));
  const body =
    route.method === 'GET'
      ? fc.constant({ kind: 'none' as const })
      : fc.oneof(
          { weight: 17, arbitrary: valueBody },
          { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
          { weight: 2, arbitrary: fc.constantFrom(...INVALID_JSON).map((text) => ({ kind: 'raw' as const, text })) },
        );

  return fc.record({
    auth: authArb,
    asDevice: fc.boolean(),
    authVariant: fc.nat(),
    body,
    contentType:
      route.method === 'GET'
        ? fc.constant(undefined)
        : fc.oneof(
            { weight: 14, arbitrary: fc.constant(undefined) },
            { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
          ),
    encoding: route.method === 'GET' ? fc.constant(null) : sometimes(fc.constantFrom(...ENCODINGS), 19),
    pathParams: fc.record(pathModel).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v)]))),
    badPath:
      route.path.length === 0
        ? fc.constant(null)
        : sometimes(fc.record({ param: fc.nat(), value: fc.constantFrom(...BAD_PATH_VALUES) }), 9),
    query: fc
      .record(queryModel, { requiredKeys: requiredQuery })
      .map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v)]))),
    badQuery:
      route.query.length === 0
        ? fc.constant(null)
        : sometimes(fc.record({ kind: fc.constantFrom(...BAD_QUERIES), variant: fc.nat() }), 6),
    hugeHeader: fc.oneof({ weight: 60, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    markedHeaders: fc.boolean(),
  });
}
