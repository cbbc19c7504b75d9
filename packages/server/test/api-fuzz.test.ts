/**
 * Schema-driven fuzzing of every operation in the OpenAPI document.
 *
 * For each route, cases generated from its schemas (test/api-fuzz-cases.ts)
 * are sent over HTTP, one at a time, as the right principal (with real
 * event, gate, ticket, session, conflict and staff ids made in setup) and
 * as nobody, a wrong token, the other kind of token or another
 * organisation. Every answer must hold:
 *
 * - never a 5xx, and always an answer;
 * - every 4xx is `{error, message}` with `error` one of core's API_ERRORS
 *   or PAIRING_ERRORS and the status that code is declared with; a 429
 *   carries Retry-After;
 * - a request without the right credential never succeeds, and nothing an
 *   organisation gets back names another organisation's objects;
 * - a refused request changes nothing (a digest of every table but the
 *   audit logs, read before and after);
 * - nothing the request carried reaches the server's log (free-text values
 *   and some headers carry a marker unique to the case; the log is grepped);
 * - a code that is no ticket is never scanned `valid`.
 *
 * Failures are collected for all routes and reported grouped (route, kind,
 * status, code), each group with its smallest case.
 *
 * Seeded and replayable: ENTRADA_FUZZ_SEED=<n> replays a run (the seed is
 * printed on failure), ENTRADA_FUZZ_RUNS=<n> sets the cases per route,
 * ENTRADA_FUZZ_ROUTE=<text> keeps only routes whose "METHOD /path" contains
 * it (a route's cases depend only on the seed and the route, so they are
 * the same; the server state they meet can differ without the routes run
 * before them).
 */
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { API_ERRORS, PAIRING_ERRORS, parseScannedCode, toBase64Url } from '@entrada/core';
import type { Database } from '../src/db/database.ts';
import { createLogger } from '../src/server.ts';
import {
  MALFORMED_AUTH,
  MARK,
  MARKER_LENGTH,
  UNICODE_TWIN,
  marker,
  mutate,
  requestArb,
  toJson,
  unicodeTwin,
  type GenContext,
  type JsonSchema,
  type RequestPlan,
  type RouteShape,
} from './api-fuzz-cases.ts';
import {
  Client,
  describeEachBackend,
  issueTickets,
  registerDevice,
  seedEvent,
  startTestServer,
  type Backend,
  type TestDatabase,
  type TestServer,
} from './harness.ts';
import { TestDevice } from './offline-helpers.ts';

const SEED = process.env.ENTRADA_FUZZ_SEED
  ? Number(process.env.ENTRADA_FUZZ_SEED)
  : Math.floor(Math.random() * 2 ** 31);
const RUNS = Number(process.env.ENTRADA_FUZZ_RUNS ?? 200);
const ROUTE_FILTER = process.env.ENTRADA_FUZZ_ROUTE ?? '';

/** Every code an error may carry, with its status: imported, never copied. */
const ERROR_STATUS: Record<string, number> = { ...API_ERRORS, ...PAIRING_ERRORS };

/**
 * What a refused request may write on purpose, left out of the state compared before and after it:
 * the audit of attempts (failed logins, pairings and tokens), the last use of a token or device, a
 * device's flags for the organisers and its count of failed syncs, a failed sync session — and a device
 * log row or sync session that holds nothing else.
 */
// device_sync_failures: a failed sync's time, counted like device_logs.sync_failures (issue 13's 24-hour count).
const AUDIT_TABLES = new Set([
  'login_logs',
  'event_login_logs',
  'server_secrets',
  'schema_migrations',
  'device_sync_failures',
]);
const AUDIT_COLUMNS: Record<string, string[]> = {
  devices: ['last_seen_at'],
  admin_tokens: ['last_used_at'],
  device_logs: ['flags', 'flag_reason', 'flagged_at', 'syncs', 'sync_failures', 'last_sync_at', 'consecutive_failures'],
  // A refused upload is recorded as a failed sync session with its message (seed 001; issue 14 §1).
  sync_sessions: ['attempts', 'status', 'error_message', 'completed_at'],
};
const AUDIT_ONLY_ROWS: Record<string, string> = {
  device_logs: 'last_seq = 0 AND received = 0 AND last_success_at IS NULL',
  sync_sessions: "status = 'failed' AND scans_uploaded = 0",
};

/** Signs of a value written to the log wholesale: SQL parameters (item 4 of issue #10), PIN hashes, binary keys. */
const FORBIDDEN_IN_LOG: Array<[RegExp, string]> = [
  [/"params":/, 'SQL parameters'],
  [/scrypt\$/, 'a PIN hash'],
  [/"type":"Buffer"/, 'binary values (token or key digests)'],
];

const DESTRUCTIVE = /\/(end|revoke|suspend|deactivate|cancel|block|resolve)$/;

const PIN = '90817263';
/** Requests with a credential that must fail come from their own address, so their failure limit does not lock out the others. */
const FAILING_AUTH_ADDRESS = '127.0.0.2';

type Principal = 'admin' | 'device' | 'either' | 'none';

interface Route extends RouteShape {
  key: string;
  index: number;
  template: string;
  principal: Principal;
}

interface Failure {
  route: string;
  kind: string;
  status: number | null;
  error: string | null;
  detail: string;
  caseIndex: number;
  request: string;
  size: number;
}

interface World {
  tokens: { adminA: string; deviceA: string; adminB: string; deviceB: string };
  pools: (route: string, name: string) => readonly string[] | undefined;
  idsA: string[];
  idsB: string[];
  ticketCodes: Set<string>;
  secrets: string[];
}

describeEachBackend('API fuzzing', (backend: Backend) => {
  let tdb: TestDatabase;
  let server: TestServer;
  const logLines: string[] = [];
  const failingAuth = new Agent({ localAddress: FAILING_AUTH_ADDRESS });
  const main = new Agent();

  beforeAll(async () => {
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => logLines.push(chunk.toString('utf8')));
    tdb = await backend.open();
    // The alert evaluator writes on its own timer: off here, where every change must come from the request just sent.
    // Over a socket, set-up included: the fuzzer's raw requests are about what the server reads off the wire.
    server = await startTestServer(tdb.db, {
      logger: createLogger('debug', sink),
      config: { alertIntervalMs: 0 },
      http: true,
    });
  });
  afterAll(async () => {
    await server?.close();
    await tdb?.drop();
    await failingAuth.close();
    await main.close();
  });

  it(
    'answers every generated request with a listed error or a success, applies nothing it refuses and logs none of it',
    async () => {
      const started = Date.now();
      const world = await buildWorld(server);
      // Routes that end, revoke or cancel what the others use run last, so the others meet live objects.
      const routes = routesOf(server.app.swagger() as unknown as OpenApi)
        .filter((r) => r.key.includes(ROUTE_FILTER))
        .sort((a, b) => Number(DESTRUCTIVE.test(a.key)) - Number(DESTRUCTIVE.test(b.key)));
      expect(routes.length).toBeGreaterThan(ROUTE_FILTER ? 0 : 30);
      const runs = backend.name === 'postgres' ? Math.max(1, Math.round(RUNS / 4)) : RUNS;
      const probe = await StateProbe.open(tdb.db);
      const failures: Failure[] = [];
      const caseText = new Map<string, { route: string; index: number; request: string }>();
      const now = Date.now();
      const perRoute: string[] = [];

      for (const route of routes) {
        const routeStart = Date.now();
        const statuses = new Map<string, number>();
        const cleanRefusals: string[] = [];
        const ctx: GenContext = { pool: (name) => world.pools(route.key, name), now };
        const plans = fc.sample(requestArb(route, ctx), { seed: routeSeed(SEED, route.key), numRuns: runs });
        for (let i = 0; i < plans.length; i++) {
          const mark = marker(route.index, i);
          const req = buildRequest(route, plans[i]!, world, mark);
          caseText.set(mark, { route: route.key, index: i, request: req.describe });
          const fail = (kind: string, status: number | null, error: string | null, detail: string): void => {
            failures.push({
              route: route.key,
              kind,
              status,
              error,
              detail,
              caseIndex: i,
              request: req.describe,
              size: req.size,
            });
          };
          const logBefore = logLines.length;
          let res: { status: number; headers: Record<string, string | string[] | undefined>; text: string };
          try {
            const r = await request(server.url + req.path, {
              method: req.method as 'GET',
              headers: req.headers,
              body: req.body,
              dispatcher: req.failingAuth ? failingAuth : main,
              headersTimeout: 60_000,
              bodyTimeout: 60_000,
            });
            // A live stream (Server-Sent Events) never ends: its status and headers are the answer; the stream is closed.
            const stream = String(r.headers['content-type'] ?? '').startsWith('text/event-stream');
            if (stream) r.body.destroy();
            res = { status: r.statusCode, headers: r.headers, text: stream ? '' : await r.body.text() };
          } catch (err) {
            fail('no-answer', null, null, (err as Error).message);
            await probe.settle();
            continue;
          }
          let body: unknown = null;
          try {
            body = JSON.parse(res.text);
          } catch {
            /* checked below */
          }
          const error = isRecord(body) && typeof body.error === 'string' ? body.error : null;
          const message = isRecord(body) && typeof body.message === 'string' ? body.message : null;
          const outcome = `${res.status}${error ? ` ${error}` : ''}`;
          statuses.set(outcome, (statuses.get(outcome) ?? 0) + 1);
          if (req.clean && res.status >= 400 && cleanRefusals.length < 3)
            cleanRefusals.push(`${outcome} ${message ?? ''}`.slice(0, 160));

          if (res.status >= 500)
            fail(
              '5xx',
              res.status,
              error,
              `${message ?? res.text.slice(0, 200)}${serverError(logLines.slice(logBefore))}`,
            );
          if (res.status >= 400) {
            if (error === null || message === null) fail('error-shape', res.status, error, res.text.slice(0, 200));
            else if (!(error in ERROR_STATUS)) fail('unlisted-code', res.status, error, message);
            else if (ERROR_STATUS[error] !== res.status)
              fail('status-mismatch', res.status, error, `${error} is declared ${ERROR_STATUS[error]}: ${message}`);
            if (res.status === 429 && res.headers['retry-after'] === undefined)
              fail('no-retry-after', res.status, error, message ?? '');
          }
          if (res.status < 400) {
            if (!req.authorised)
              fail('unauthorised-success', res.status, null, `${req.authNote} answered ${res.status}`);
            const foreign = req.org === 'A' ? world.idsB : req.org === 'B' ? world.idsA : [];
            // Echoing an id the request sent tells nothing; naming one it did not is a leak.
            const leaked = foreign.find((id) => res.text.includes(id) && !req.sent.includes(id));
            if (leaked)
              fail('cross-organisation', res.status, null, `the answer to organisation ${req.org} names ${leaked}`);
            if (
              route.key === 'POST /api/v1/scanning/scan' &&
              isRecord(body) &&
              body.result === 'valid' &&
              !isTicketCode(world, req.scannedCode)
            ) {
              fail(
                'forged-valid',
                res.status,
                null,
                `code ${JSON.stringify(req.scannedCode?.slice(0, 60))} answered valid`,
              );
            }
          }
          const changed = await probe.changedSince();
          if (res.status >= 400 && changed.length > 0)
            fail('partially-applied', res.status, error, `refused, yet changed: ${changed.join(', ')}`);
        }
        const seen = [...statuses]
          .sort((a, b) => b[1] - a[1])
          .map(([k, n]) => `${k}: ${n}`)
          .join(', ');
        perRoute.push(
          `${route.key}: ${plans.length} cases, ${Date.now() - routeStart} ms (${seen})${cleanRefusals.length ? `\n    unmutated requests refused: ${cleanRefusals.join(' | ')}` : ''}`,
        );
      }

      // The log, read once at the end (lines of a request can follow its answer): no marker, no secret of the setup.
      const log = logLines.join('');
      const reported = new Set<string>();
      for (const match of log.matchAll(/FzQ[0-9a-z]{7}Qz/g)) {
        const found = caseText.get(match[0]);
        if (!found || reported.has(match[0])) continue;
        reported.add(match[0]);
        const line = lineAround(log, match.index);
        failures.push({
          route: found.route,
          kind: 'logged-request-value',
          status: null,
          error: null,
          detail: line,
          caseIndex: found.index,
          request: found.request,
          size: found.request.length,
        });
      }
      for (const [pattern, what] of FORBIDDEN_IN_LOG) {
        const at = log.search(pattern);
        if (at >= 0)
          failures.push({
            route: '(log)',
            kind: 'logged-values',
            status: null,
            error: what,
            detail: lineAround(log, at),
            caseIndex: -1,
            request: what,
            size: 0,
          });
      }
      for (const secret of world.secrets) {
        const at = log.indexOf(secret);
        if (at >= 0)
          failures.push({
            route: '(setup)',
            kind: 'logged-secret',
            status: null,
            error: null,
            detail: lineAround(log, at),
            caseIndex: -1,
            request: secret.slice(0, 12),
            size: 0,
          });
      }

      console.log(
        `API fuzz [${backend.name}] seed ${SEED}, ${runs} cases per route, ${routes.length} routes, ${((Date.now() - started) / 1000).toFixed(1)} s` +
          (process.env.ENTRADA_FUZZ_VERBOSE ? `\n  ${perRoute.join('\n  ')}` : ''),
      );
      if (failures.length > 0) throw new Error(summarise(failures, backend.name));
    },
    Math.max(300_000, RUNS * 2_000),
  );
});

// ---------------------------------------------------------------------------
// The world the requests meet.

async function buildWorld(server: TestServer): Promise<World> {
  const adminA = server.admin;
  const ok = <T>(r: { status: number; body: T }, what: string): T => {
    if (r.status >= 300) throw new Error(`setup: ${what} answered ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const ev = await seedEvent(adminA);
  const E = ev.eventId;
  const imported = [`IMPORTED-${randomUUID()}`, `IMPORTED-${randomUUID()}`];
  const holders = [`Holder ${randomUUID().slice(0, 8)}`, `Holder ${randomUUID().slice(0, 8)}`];
  const tickets = await issueTickets(adminA, E, [
    { ticket_type_id: ev.types.ga },
    { ticket_type_id: ev.types.ga },
    { ticket_type_id: ev.types.reentry },
    { ticket_type_id: ev.types.vip },
    { ticket_type_id: ev.types.multi },
    { ticket_type_id: ev.types.ga, code: imported[0], holder_name: holders[0] },
    { ticket_type_id: ev.types.reentry, code: imported[1], holder_name: holders[1] },
  ]);

  // D1: the fuzzed scanner (no key: its uploads are processed as unsigned scans). D2: paired with a key. V1, V2: victims of suspend/revoke.
  const d1 = await registerDevice(adminA, 'Fuzz scanner');
  const victims = [await registerDevice(adminA, 'Victim 1'), await registerDevice(adminA, 'Victim 2')];
  const pairingCodes: string[] = [];
  for (let i = 0; i < 4; i++)
    pairingCodes.push(
      ok(await adminA.post('/api/v1/devices/pairing-codes', { event_id: E, gate_id: ev.gates.main }), 'pairing code')
        .code,
    );
  const keys = TestDevice.keyPair(7);
  const publicKey = toBase64Url(keys.publicKey);
  const paired = ok(
    await new Client(server.url, null).post('/api/v1/devices/pair', {
      code: pairingCodes.shift(),
      public_key: publicKey,
    }),
    'pairing',
  );
  const d1Client = server.client(d1.token);
  const session = ok(
    await d1Client.post('/api/v1/scanning/sessions', { event_id: E, gate_id: ev.gates.main }),
    'session',
  );
  const scanIds = [randomUUID(), randomUUID()];
  ok(
    await d1Client.post('/api/v1/scanning/scan', {
      code: tickets[0]!.code,
      session_id: session.id,
      scan_id: scanIds[0],
    }),
    'online scan',
  );
  ok(
    await d1Client.post('/api/v1/scanning/scan', { code: 'NOT-A-TICKET', session_id: session.id, scan_id: scanIds[1] }),
    'online scan',
  );

  // A double entry: D2 admits ticket 1 offline, D1 scans it 30 s later → a conflict to resolve.
  const t = Date.now() - 120_000;
  const dev2 = new TestDevice(server.client(paired.token), paired.device_id, E);
  dev2.keys = keys;
  dev2.scan({ code: tickets[1]!.code, at: t, gateId: ev.gates.main });
  ok(await dev2.upload(), 'offline upload');
  const dev1 = new TestDevice(d1Client, d1.deviceId, E);
  dev1.scan({ code: tickets[1]!.code, at: t + 30_000, gateId: ev.gates.main });
  ok(await dev1.upload(), 'offline upload');
  const conflicts = ok(await adminA.get(`/api/v1/events/${E}/conflicts`), 'conflicts').conflicts as Array<{
    id: string;
  }>;
  if (conflicts.length === 0) throw new Error('setup: no conflict');

  const staff = ok(
    await adminA.post(`/api/v1/events/${E}/staff`, { username: 'gate-a', name: 'Gate A', pin: PIN }),
    'staff',
  );
  const manifest = await d1Client.get(`/api/v1/offline/manifest/${E}?device_id=${encodeURIComponent(d1.deviceId)}`);
  const feed = await d1Client.get(`/api/v1/offline/events?event_id=${E}`);
  const cursors = [
    manifest.body?.manifest?.cursor,
    manifest.body?.manifest?.feed_cursor,
    feed.body?.next_cursor,
  ].filter((c): c is string => typeof c === 'string');
  const detail = ok(await adminA.get(`/api/v1/events/${E}`), 'event');
  // A second event of the organisation: batches that span events (reconcile) must be all or nothing.
  const ev2 = await seedEvent(adminA, { name: 'Second event' });
  const tickets2 = await issueTickets(adminA, ev2.eventId, [
    { ticket_type_id: ev2.types.ga },
    { ticket_type_id: ev2.types.reentry },
  ]);
  const scanRows = ok(await adminA.get(`/api/v1/tickets/${tickets[1]!.id}`), 'ticket').scans as Array<{ id: string }>;

  // Another organisation, with an event and a device of its own.
  const orgB = ok(await adminA.post('/api/v1/organisations', { name: 'Other organisation' }), 'organisation');
  const adminB = server.client(orgB.admin_token);
  const evB = await seedEvent(adminB);
  const [ticketB] = await issueTickets(adminB, evB.eventId, [{ ticket_type_id: evB.types.ga }]);
  const dB = await registerDevice(adminB, 'Other scanner');

  const idsA = [
    E,
    ev2.eventId,
    ...tickets2.map((x) => x.id),
    ...Object.values(ev.zones),
    ...Object.values(ev.gates),
    ...Object.values(ev.types),
    ...tickets.map((x) => x.id),
    session.id as string,
    staff.id as string,
    ...conflicts.map((c) => c.id),
    ...scanRows.map((s) => s.id),
    d1.deviceId,
    paired.device_id as string,
    ...victims.map((v) => v.deviceId),
    ...(detail.keys as Array<{ public_key: string }>).map((k) => k.public_key),
  ];
  const idsB = [
    orgB.id as string,
    evB.eventId,
    ...Object.values(evB.zones),
    ...Object.values(evB.gates),
    ...Object.values(evB.types),
    ticketB!.id,
    dB.deviceId,
  ];

  const named: Record<string, string[]> = {
    eventId: [E, E, E, E, E, ev2.eventId, evB.eventId],
    event_id: [E, E, E, E, E, ev2.eventId, evB.eventId],
    timezone: ['Europe/Amsterdam', 'UTC', 'America/St_Johns', 'Pacific/Chatham', 'Asia/Kathmandu'],
    limit: ['1', '2', '100', '1000'],
    after: ['0', '2'],
    gate_id: [ev.gates.main, ev.gates.vip, ev.gates.any, evB.gates.main],
    zone_ids: [ev.zones.general, ev.zones.vip, evB.zones.general],
    ticket_type_id: [...Object.values(ev.types), evB.types.ga],
    ticket_id: [...tickets.map((x) => x.id), ...tickets2.map((x) => x.id), ticketB!.id],
    ticketId: [...tickets.map((x) => x.id), ...tickets2.map((x) => x.id), ticketB!.id],
    session_id: [session.id],
    scan_id: scanIds,
    staffId: [staff.id],
    device_id: [d1.deviceId],
    deviceId: victims.map((v) => v.deviceId),
    // Codes of tickets, of the other organisation's ticket, and forged ones (never `valid`).
    code: [
      ...tickets.map((x) => x.code),
      tickets2[0]!.code,
      ticketB!.code,
      `${MARK}-FORGED`,
      forgeSignature(tickets[0]!.code),
    ],
    qrcode: [...tickets.map((x) => x.code), ticketB!.code, `${MARK}-FORGED`],
    username: ['gate-a'],
    pin: [PIN],
    since: cursors,
    public_key: [publicKey],
  };
  const overrides: Record<string, Record<string, string[] | undefined>> = {
    'POST /api/v1/devices/pair': { code: pairingCodes },
    // Retry keys of earlier scans with other codes: a retry key must not turn a forged code into `valid`.
    'POST /api/v1/scanning/scan': {
      code: [...tickets.map((x) => x.code), `${MARK}-FORGED`, `${MARK}-FORGED`, 'TOTALLY-FORGED'],
      scan_id: [scanIds[0]!, scanIds[0]!, scanIds[1]!],
    },
    'POST /api/v1/devices': { device_id: undefined },
    'POST /api/v1/events/{eventId}/tickets': { code: undefined },
    'POST /api/v1/events/{eventId}/staff': { username: undefined, pin: undefined },
    'GET /api/v1/offline/sync/status/{eventId}/{deviceId}': { deviceId: [d1.deviceId] },
    'POST /api/v1/offline/import': { device_id: [paired.device_id, d1.deviceId] },
    'POST /api/v1/conflicts/{id}/resolve': { id: conflicts.map((c) => c.id) },
    'GET /api/v1/scanning/sessions/{id}': { id: [session.id] },
    'PUT /api/v1/scanning/sessions/{id}/end': { id: [session.id] },
  };
  return {
    tokens: { adminA: server.adminToken, deviceA: d1.token, adminB: orgB.admin_token, deviceB: dB.token },
    pools: (route, name) => (overrides[route] && name in overrides[route] ? overrides[route][name] : named[name]),
    idsA,
    idsB,
    ticketCodes: new Set([...tickets, ...tickets2].map((x) => x.code)),
    secrets: [
      server.adminToken,
      d1.token,
      paired.token,
      orgB.admin_token,
      dB.token,
      ...victims.map((v) => v.token),
      PIN,
      ...pairingCodes,
      ...imported,
      ...holders,
    ],
  };
}

/** Whether core reads `code` as one of the tickets' codes (scanners add case changes, blanks and a line ending). */
function isTicketCode(world: World, code: string | null): boolean {
  const parsed = parseScannedCode(code);
  return (
    (parsed.kind === 'signed' && world.ticketCodes.has(parsed.text)) ||
    (parsed.kind === 'imported' && world.ticketCodes.has(parsed.code))
  );
}

/** A signed code with one character changed well inside its signature (the last ones carry padding bits). */
function forgeSignature(code: string): string {
  const at = code.length - 20;
  return `${code.slice(0, at)}${code[at] === 'A' ? 'B' : 'A'}${code.slice(at + 1)}`;
}

// ---------------------------------------------------------------------------
// Routes from the OpenAPI document.

interface OpenApi {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: Array<{ in: string; name: string; required?: boolean; schema: JsonSchema }>;
        requestBody?: { content: Record<string, { schema: JsonSchema }> };
        security?: unknown[];
      }
    >
  >;
}

/** Scanner routes take a device token; the sync status and the feed take either; the rest are the organisers'. */
function principalOf(method: string, path: string, security: unknown[] | undefined): Principal {
  if (path === '/api/health' || (security && security.length === 0)) return 'none';
  if (path.startsWith('/api/v1/offline/sync/status/') || path === '/api/v1/offline/events') return 'either';
  if (
    path.startsWith('/api/v1/scanning/') ||
    path.startsWith('/api/v1/offline/manifest/') ||
    path === '/api/v1/offline/sync' ||
    path === '/api/v1/offline/reconcile' ||
    path === '/api/v1/events/{eventId}/login' ||
    path === '/api/v1/devices/heartbeat' ||
    path === '/api/v1/offline/conflicts/escalate'
  )
    return 'device';
  void method;
  return 'admin';
}

function routesOf(doc: OpenApi): Route[] {
  const routes: Route[] = [];
  for (const [template, ops] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(ops)) {
      const method = m.toUpperCase();
      const params = op.parameters ?? [];
      routes.push({
        key: `${method} ${template}`,
        index: routes.length,
        template,
        method,
        principal: principalOf(method, template, op.security),
        body: op.requestBody?.content['application/json']?.schema ?? null,
        path: params.filter((p) => p.in === 'path').map((p) => ({ name: p.name, schema: p.schema })),
        query: params
          .filter((p) => p.in === 'query')
          .map((p) => ({ name: p.name, schema: p.schema, required: p.required === true })),
      });
    }
  }
  return routes;
}

/** A route's own seed: its cases do not change when other routes are filtered out or added. */
function routeSeed(seed: number, key: string): number {
  let h = seed | 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x5bd1e995) ^ (h >>> 15);
  return h | 0;
}

// ---------------------------------------------------------------------------
// A plan as an HTTP request.

interface BuiltRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  failingAuth: boolean;
  /** Whether the credential is one the route accepts. */
  authorised: boolean;
  authNote: string;
  org: 'A' | 'B' | null;
  scannedCode: string | null;
  /** No mutation at all: valid values, the right credential, JSON. */
  clean: boolean;
  /** Path and body as sent. */
  sent: string;
  describe: string;
  size: number;
}

const GZIP_BOMB = gzipSync(Buffer.concat([Buffer.alloc(5 * 1024 * 1024, 0x20), Buffer.from('{}')]));

function buildRequest(route: Route, plan: RequestPlan, world: World, mark: string): BuiltRequest {
  const inUrl = (v: string): string => v.split(MARK).join('m'.repeat(MARKER_LENGTH));
  const fill = (text: string): string => text.split(MARK).join(mark);

  // Path: valid values encoded, a bad one written as is.
  const names = route.path.map((p) => p.name);
  let path = route.template;
  names.forEach((name, i) => {
    const valid = inUrl(plan.pathParams[name] ?? '');
    const bad = plan.badPath && plan.badPath.param % names.length === i ? plan.badPath.value : null;
    path = path.replace(
      `{${name}}`,
      bad === UNICODE_TWIN ? encodeURIComponent(unicodeTwin(valid)) : (bad ?? encodeURIComponent(valid)),
    );
  });
  const pairs = Object.entries(plan.query).map(([k, v]) => [k, encodeURIComponent(inUrl(v))] as [string, string]);
  const first = route.query[0]?.name ?? 'x';
  if (plan.badQuery) {
    const q = plan.badQuery;
    switch (q.kind) {
      case 'dup':
        pairs.push([first, '1'], [first, '2']);
        break;
      case '%00':
        pairs.push([first, '%00']);
        break;
      case '%ZZ':
        pairs.push([first, '%ZZ']);
        break;
      case 'long':
        pairs.push([first, 'x'.repeat(10_000)]);
        break;
      case 'unknown':
        pairs.push(['x_unknown', '1']);
        break;
      case 'empty':
        pairs.push([first, '']);
        break;
      case 'bracket':
        pairs.push([`${first}[]`, '1']);
        break;
      case 'proto':
        pairs.push(['__proto__', 'x'], ['constructor', 'y']);
        break;
      case 'drop':
        pairs.splice(0, pairs.length);
        break;
      case 'unicode': {
        const present = Object.entries(plan.query);
        const [k, v] = present[q.variant % Math.max(1, present.length)] ?? [first, 'x'];
        const at = pairs.findIndex(([name]) => name === k);
        pairs.splice(at < 0 ? pairs.length : at, at < 0 ? 0 : 1, [k, encodeURIComponent(unicodeTwin(inUrl(v)))]);
        break;
      }
    }
  }
  if (pairs.length > 0) path += `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`;

  // Credentials.
  const { tokens } = world;
  const wantDevice = route.principal === 'device' || (route.principal === 'either' && plan.asDevice);
  const headers: Record<string, string> = {};
  let failing = false;
  let authorised = true;
  let org: 'A' | 'B' | null = 'A';
  switch (plan.auth) {
    case 'right':
      headers.authorization = `Bearer ${wantDevice ? tokens.deviceA : tokens.adminA}`;
      break;
    case 'none':
      authorised = false;
      org = null;
      break;
    case 'malformed':
      headers.authorization = fill(MALFORMED_AUTH[plan.authVariant % MALFORMED_AUTH.length]!);
      authorised = false;
      org = null;
      break;
    case 'wrong-token':
      headers.authorization = `Bearer ${wantDevice ? 'edt_' : 'eat_'}${mark}${'w'.repeat(plan.authVariant % 40)}`;
      failing = true;
      authorised = false;
      org = null;
      break;
    case 'other-kind':
      headers.authorization = `Bearer ${wantDevice ? tokens.adminA : tokens.deviceA}`;
      failing = route.principal !== 'either';
      authorised = route.principal === 'either';
      break;
    case 'cross-org':
      headers.authorization = `Bearer ${wantDevice ? tokens.deviceB : tokens.adminB}`;
      org = 'B';
      break;
  }
  // Open routes ignore credentials: nobody is authenticated there.
  if (route.principal === 'none') {
    authorised = true;
    org = null;
  }

  // Body.
  let text: string | undefined;
  const notes: string[] = [];
  let scannedCode: string | null = null;
  if (plan.body.kind === 'value') {
    const { value, notes: n } = mutate(plan.body.value, plan.body.mutations);
    notes.push(...n);
    if (value !== undefined) text = fill(toJson(value));
    if (isRecord(value) && typeof value.code === 'string') scannedCode = fill(value.code);
  } else if (plan.body.kind === 'raw') {
    text = fill(plan.body.text);
    notes.push(`invalid JSON ${JSON.stringify(text.slice(0, 40))}`);
  }
  let body: Buffer | undefined = text === undefined ? undefined : Buffer.from(text, 'utf8');
  if (body !== undefined) {
    const type = plan.contentType === undefined ? 'application/json' : plan.contentType;
    if (type !== null) headers['content-type'] = type;
    if (plan.contentType !== undefined) notes.push(`content-type ${type === null ? 'none' : type.slice(0, 40)}`);
    if (plan.encoding) {
      notes.push(`content-encoding ${plan.encoding}`);
      headers['content-encoding'] = plan.encoding.startsWith('gzip') ? 'gzip' : plan.encoding;
      if (plan.encoding === 'gzip') body = gzipSync(body);
      if (plan.encoding === 'gzip-bomb') body = GZIP_BOMB;
    }
  }
  if (plan.hugeHeader) {
    headers['x-padding'] = 'p'.repeat(20_000);
    notes.push('20 KB header');
  }
  if (plan.markedHeaders) {
    headers['user-agent'] = `fuzz/${mark}`;
    headers.referer = `http://example.test/${mark}`;
  }
  if (plan.badPath)
    notes.push(
      `path ${plan.badPath.value.slice(0, 20)}${plan.badPath.value.length > 20 ? `… (${plan.badPath.value.length} chars)` : ''}`,
    );
  if (plan.badQuery) notes.push(`query ${plan.badQuery.kind}`);

  const authNote = plan.auth === 'right' ? (wantDevice ? 'device' : 'admin') : plan.auth;
  const excerpt =
    text === undefined ? '' : ` ${text.length > 300 ? `${text.slice(0, 300)}… (${text.length} chars)` : text}`;
  const shownPath = path.length > 160 ? `${path.slice(0, 160)}… (${path.length} chars)` : path;
  return {
    method: route.method,
    path,
    headers,
    body,
    failingAuth: failing,
    authorised,
    authNote,
    org,
    scannedCode,
    sent: path + (text ?? ''),
    clean:
      plan.auth === 'right' &&
      notes.length === 0 &&
      !plan.markedHeaders &&
      (route.body === null || (plan.body.kind === 'value' && plan.body.mutations.length === 0)),
    describe: `${route.method} ${shownPath} [${authNote}${notes.length ? `; ${notes.join('; ')}` : ''}]${excerpt}`,
    size: (text?.length ?? 0) + path.length,
  };
}

// ---------------------------------------------------------------------------
// State digest: what a refused request must not change.

class StateProbe {
  private last = new Map<string, string>();
  private lastXid = '';

  private constructor(
    private readonly db: Database,
    private readonly sql: string,
  ) {}

  static async open(db: Database): Promise<StateProbe> {
    const tables = (
      await db.query<{ name: string }>(
        `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
      )
    )
      .map((t) => t.name)
      .filter((t) => !AUDIT_TABLES.has(t));
    const drop = (t: string): string => `ARRAY[${(AUDIT_COLUMNS[t] ?? []).map((c) => `'${c}'`).join(',')}]::text[]`;
    const sql = tables
      .map(
        (t) =>
          `SELECT '${t}' AS t, count(*)::text || ':' || md5(coalesce(string_agg(r, ',' ORDER BY r), '')) AS h ` +
          `FROM (SELECT (to_jsonb(x) - ${drop(t)})::text AS r FROM "${t}" x${AUDIT_ONLY_ROWS[t] ? ` WHERE NOT (${AUDIT_ONLY_ROWS[t]})` : ''}) s`,
      )
      .join(' UNION ALL ');
    const probe = new StateProbe(db, sql);
    await probe.settle();
    return probe;
  }

  /** Reads the state as it is now, without comparing. */
  async settle(): Promise<void> {
    await this.changedSince();
  }

  /**
   * The tables whose rows changed since the last call. The digest is read
   * only when a transaction id was handed out meanwhile (nothing written,
   * nothing to compare), which keeps reading requests cheap.
   */
  async changedSince(): Promise<string[]> {
    const [x] = await this.db.query<{ x: string }>(`SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS x`);
    if (x!.x === this.lastXid) return [];
    this.lastXid = x!.x;
    const now = new Map((await this.db.query<{ t: string; h: string }>(this.sql)).map((r) => [r.t, r.h]));
    const changed = [...now]
      .filter(([t, h]) => this.last.size > 0 && this.last.get(t) !== h)
      .map(([t, h]) => `${t} (${this.last.get(t)?.split(':')[0]} → ${h.split(':')[0]} rows)`);
    this.last = now;
    return changed;
  }
}

// ---------------------------------------------------------------------------
// Report.

function summarise(failures: Failure[], backend: string): string {
  const group = (key: (f: Failure) => string): Array<[string, Failure[]]> => {
    const groups = new Map<string, Failure[]>();
    for (const f of failures) {
      const k = key(f);
      groups.set(k, [...(groups.get(k) ?? []), f]);
    }
    return [...groups].sort(([a], [b]) => a.localeCompare(b));
  };
  const kind = (f: Failure): string => `${f.kind} | ${f.status ?? '-'} ${f.error ?? ''}`.trim();
  const byRoute = group((f) => `${f.route} | ${kind(f)}`);
  const out = [
    `API fuzz [${backend}]: ${failures.length} failures in ${byRoute.length} groups. Replay: ENTRADA_FUZZ_SEED=${SEED} (ENTRADA_FUZZ_ROUTE="<route>" for one route).`,
    '',
  ];
  for (const [key, list] of group(kind))
    out.push(`${key} — ${list.length}× on ${[...new Set(list.map((f) => f.route))].join(', ')}`);
  for (const [key, list] of byRoute) {
    const smallest = list.reduce((a, b) => (b.size < a.size ? b : a));
    out.push(`\n■ ${key} — ${list.length}×`);
    out.push(`  case ${smallest.caseIndex}: ${smallest.request}`);
    out.push(`  → ${smallest.detail.slice(0, 400)}`);
  }
  return out.join('\n');
}

/** What the server logged as the cause of a 5xx (error class, code and message), to tell failures apart in the report. */
function serverError(lines: string[]): string {
  for (const line of lines.join('').split('\n')) {
    if (!line.includes('"level":50')) continue;
    try {
      const err = (JSON.parse(line) as { err?: { type?: string; code?: string; message?: string } }).err;
      if (err)
        return ` — server: ${err.type ?? 'Error'}${err.code ? ` ${err.code}` : ''}: ${(err.message ?? '').slice(0, 160)}`;
    } catch {
      /* not JSON */
    }
  }
  return '';
}

function lineAround(log: string, at: number): string {
  const start = log.lastIndexOf('\n', at) + 1;
  const end = log.indexOf('\n', at);
  const line = log.slice(start, end < 0 ? undefined : end);
  return line.length > 400 ? `…${line.slice(Math.max(0, at - start - 150), at - start + 250)}…` : line;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
