/**
 * Fleet health and alerts (issue 13 §2–3): what heartbeats, the fleet table and one alert evaluation cost.
 *
 *   node --import tsx bench/fleet-health.ts [--devices N] [--pglite]
 *   npm run bench:fleet -- --devices 500
 *
 * An in-process server (no alert timer) on a fresh PostgreSQL database (TEST_DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres) or PGlite (--pglite); one event, N devices registered for it.
 * 1. Heartbeats: each device sends 5 over HTTP, 50 in flight (as 500 devices every 30 s send ~17/s, this is a
 *    saturation figure, not a rate): latency p50/p99 and throughput.
 * 2. GET /events/:id/devices/health for the N devices: median of 10.
 * 3. One evaluation of the event's alert rules (10 % of the devices over the pending threshold): the first pass
 *    raises their alerts, later passes find nothing to change; median of 10 later passes.
 * Nothing is written outside the scratch database, which is dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { percentileOfSorted } from './lib/latency.ts';
import { loadConfig } from '../packages/server/src/config.ts';
import type { Database } from '../packages/server/src/db/database.ts';
import { openPglite } from '../packages/server/src/db/pglite.ts';
import { openPostgres } from '../packages/server/src/db/postgres.ts';
import { startServer } from '../packages/server/src/server.ts';

const argv = process.argv.slice(2);
const devicesArg = argv.indexOf('--devices');
const N = devicesArg >= 0 ? Number(argv[devicesArg + 1]) : 500;
const PGLITE = argv.includes('--pglite');
if (!Number.isInteger(N) || N < 1) throw new Error('--devices takes a positive integer');
const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let db: Database;
let drop: () => Promise<void>;
if (PGLITE) {
  db = await openPglite();
  drop = () => db.close();
} else {
  const name = `entrada_bench_fleet_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  db = openPostgres({ connectionString: url.toString(), maxConnections: 20 });
  drop = async () => {
    await db.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  };
}
const adminToken = `eat_bench_${randomBytes(8).toString('hex')}`;
const server = await startServer({
  config: {
    ...loadConfig({}),
    port: 0,
    host: '127.0.0.1',
    secret: 'bench-secret',
    demo: false,
    adminToken,
    alertIntervalMs: 0,
  },
  db,
  logger: false,
});
// The benchmark reads answers loosely (it checks statuses, not shapes).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type LooseBody = any;
async function call(
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: LooseBody }> {
  const res = await fetch(server.url + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}
async function created(path: string, body: unknown): Promise<{ id: string; token?: string }> {
  const r = await call(adminToken, 'POST', path, body);
  if (r.status !== 201) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

try {
  const now = Date.now();
  const event = await created('/api/v1/events', {
    name: 'Bench',
    starts_at: new Date(now - 3_600_000).toISOString(),
    ends_at: new Date(now + 86_400_000).toISOString(),
  });
  const zone = await created(`/api/v1/events/${event.id}/zones`, { name: 'Main', capacity: 10_000 });
  const gate = await created(`/api/v1/events/${event.id}/gates`, { name: 'Main', zone_ids: [zone.id] });
  const ev = { eventId: event.id, gates: { main: gate.id } };
  const devices: Array<{ token: string }> = [];
  for (let i = 0; i < N; i++)
    devices.push({ token: (await created('/api/v1/devices', { name: `Bench ${i}`, event_ids: [ev.eventId] })).token! });

  const latencies: number[] = [];
  const jobs = devices.flatMap((d, i) =>
    Array.from({ length: 5 }, (_, k) => ({ d, pending: i % 10 === 0 ? 150 + k : k })),
  );
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      for (;;) {
        const job = jobs[next++];
        if (!job) return;
        const t0 = performance.now();
        const r = await call(job.d.token, 'POST', '/api/v1/devices/heartbeat', {
          event_id: ev.eventId,
          device_time: Date.now(),
          app_version: 'bench 1',
          pending_scans: job.pending,
          oldest_pending_at: job.pending ? Date.now() - 60_000 : null,
          battery: { level: 0.5, charging: false },
          gate_id: ev.gates.main,
        });
        if (r.status !== 200) throw new Error(`heartbeat answered ${r.status}: ${JSON.stringify(r.body)}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);

  const median = async (fn: () => Promise<unknown>): Promise<number> => {
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      await fn();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return percentileOfSorted(times, 50);
  };
  const healthMs = await median(async () => {
    const r = await call(adminToken, 'GET', `/api/v1/events/${ev.eventId}/devices/health`);
    if (r.body.devices.length !== N) throw new Error(`health listed ${r.body.devices.length} devices`);
  });
  const t0 = performance.now();
  await server.services.alerts.evaluate(ev.eventId);
  const firstPassMs = performance.now() - t0;
  const raised = (await call(adminToken, 'GET', `/api/v1/events/${ev.eventId}/alerts`)).body.alerts.length as number;
  const passMs = await median(() => server.services.alerts.evaluate(ev.eventId));

  const f = (v: number): string => v.toFixed(1);
  console.log(`\nFleet health, ${N} devices, ${PGLITE ? 'PGlite' : 'PostgreSQL'}\n`);
  console.log('| Measure | Result |');
  console.log('|---|---|');
  console.log(
    `| Heartbeats (${jobs.length}, 50 in flight) | ${Math.round(jobs.length / elapsed)}/s, p50 ${f(percentileOfSorted(latencies, 50))} ms, p99 ${f(percentileOfSorted(latencies, 99))} ms |`,
  );
  console.log(`| GET devices/health (${N} rows), median of 10 | ${f(healthMs)} ms |`);
  console.log(`| Alert evaluation, first pass (raises ${raised}) | ${f(firstPassMs)} ms |`);
  console.log(`| Alert evaluation, unchanged, median of 10 | ${f(passMs)} ms |`);
} finally {
  await server.close();
  await drop();
}
