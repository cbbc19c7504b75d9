/**
 * The scan log's CSV export at 100,000 scans (issue #13: ≤ 5 s), and the
 * scan log's pages at that size (the evidence for adding no index to scans):
 * GET /api/v1/events/:id/scans.csv and /scans over real HTTP against a
 * server on a scratch PostgreSQL database, every migration applied.
 *
 *   node --import tsx bench/scan-export.ts [--scans=100000] [--runs=3] [--wait-quiet]
 *   npm run bench:scan-export
 *
 * The event has 20,000 tickets with holder names, 3 gates, 40 devices and 20
 * staff members; the scans (written straight into the table, 70 % online and
 * 30 % offline, spread over 8 hours, every one joined to a ticket, a device,
 * a gate and a staff member) are what a large festival day records. The
 * export's time is the client's, request to last byte read.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../packages/server/src/config.ts';
import { openPostgres } from '../packages/server/src/db/postgres.ts';
import { startServer } from '../packages/server/src/server.ts';
import { LatencyRecorder } from './lib/latency.ts';
import { createScratchDatabase } from './lib/postgres.ts';
import { markdownTable, pass, saveJson, timestamp } from './lib/report.ts';
import { round, waitQuiet } from './lib/run-control.ts';

const arg = (name: string, fallback: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : fallback;
};
const SCANS = arg('scans', 100_000);
const RUNS = arg('runs', 3);
const TARGET_S = 5;

async function main(): Promise<void> {
  if (process.argv.includes('--wait-quiet')) {
    const busy = await waitQuiet({ maxMs: 180_000, sampleMs: 1_000, consecutive: 5, log: (m) => console.log(m) });
    console.log(`machine: ${busy.toFixed(2)} cores busy before the run`);
  }
  const scratch = await createScratchDatabase('bench_export');
  const db = openPostgres({ connectionString: scratch.url, maxConnections: 10 });
  const adminToken = `eat_bench_${randomBytes(8).toString('hex')}`;
  const server = await startServer({
    config: { ...loadConfig({}), port: 0, host: '127.0.0.1', secret: 'bench-secret', demo: false, adminToken },
    db,
    logger: false,
  });
  const headers = { authorization: `Bearer ${adminToken}` };
  // prettier-ignore
  const call = async (method: string, path: string, body?: unknown): Promise<any> => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const res = await fetch(server.url + path, { method, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : null });
    const json = await res.json();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  try {
    const ev = await call('POST', '/api/v1/events', {
      name: 'Export bench',
      starts_at: '2026-08-01T10:00Z',
      ends_at: '2026-08-03T02:00Z',
      timezone: 'Europe/Amsterdam',
    });
    const zone = await call('POST', `/api/v1/events/${ev.id}/zones`, { name: 'Field', capacity: 50_000 });
    const gates: string[] = [];
    for (const name of ['North', 'South', 'VIP'])
      gates.push((await call('POST', `/api/v1/events/${ev.id}/gates`, { name, zone_ids: [zone.id] })).id);
    const type = await call('POST', `/api/v1/events/${ev.id}/ticket-types`, { name: 'GA', zone_ids: [zone.id] });
    for (let done = 0; done < 20_000; done += 10_000) {
      await call('POST', `/api/v1/events/${ev.id}/tickets`, {
        tickets: Array.from({ length: 10_000 }, (_, i) => ({
          ticket_type_id: type.id,
          holder_name: `Holder ${done + i}, "Jr."`,
        })),
      });
    }
    for (let i = 0; i < 40; i++) await call('POST', '/api/v1/devices', { name: `Scanner ${i}` });
    for (let i = 0; i < 20; i++)
      await call('POST', `/api/v1/events/${ev.id}/staff`, { username: `staff${i}`, name: `Staff ${i}`, pin: '1234' });

    const t0 = performance.now();
    await db.query(
      `WITH t AS (SELECT array_agg(id) a FROM tickets WHERE event_id = $1), d AS (SELECT array_agg(id) pk, array_agg(device_id) id FROM devices),
            st AS (SELECT array_agg(id) a FROM event_staff WHERE event_id = $1)
       INSERT INTO scans (event_id, id, ticket_id, result, reason, admits, direction, device_pk, device_id, gate_id, staff_id, scanned_at, received_at, source,
                          record_status, clock_uncertainty_ms)
       SELECT $1, gen_random_uuid(), t.a[1 + g % 20000], CASE WHEN g % 10 = 0 THEN 'duplicate' ELSE 'valid' END,
              CASE WHEN g % 10 = 0 THEN 'already_used' ELSE 'admitted' END, g % 10 <> 0, CASE WHEN g % 7 = 0 THEN 'exit' ELSE 'entry' END,
              d.pk[1 + g % 40], d.id[1 + g % 40], ($2::uuid[])[1 + g % 3], st.a[1 + g % 20],
              '2026-08-01T14:00Z'::timestamptz + g * (interval '8 hours' / $3), '2026-08-01T14:00Z'::timestamptz + g * (interval '8 hours' / $3) + interval '3 seconds',
              CASE WHEN g % 10 < 3 THEN 'offline' ELSE 'online' END, CASE WHEN g % 10 = 0 THEN 'rejected' ELSE 'admitted' END, CASE WHEN g % 10 < 3 THEN 1500 END
       FROM generate_series(1, $3::int) g, t, d, st`,
      [ev.id, gates, SCANS],
    );
    await db.query('ANALYZE scans');
    console.log(`${SCANS.toLocaleString('en-US')} scans written in ${round((performance.now() - t0) / 1000)} s`);

    const exportOnce = async (): Promise<{ s: number; bytes: number; rows: number }> => {
      const start = performance.now();
      const res = await fetch(`${server.url}/api/v1/events/${ev.id}/scans.csv`, { headers });
      if (res.status !== 200) throw new Error(`export: ${res.status}`);
      let bytes = 0;
      let rows = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        bytes += chunk.length;
        for (const b of chunk) if (b === 10) rows++;
      }
      return { s: (performance.now() - start) / 1000, bytes, rows: rows - 1 };
    };
    await exportOnce(); // warm-up: plans, JIT
    const runs: Array<{ s: number; bytes: number; rows: number }> = [];
    for (let i = 0; i < RUNS; i++) runs.push(await exportOnce());
    const worst = Math.max(...runs.map((r) => r.s));
    console.log(
      markdownTable(
        ['run', 'rows', 'MB', 'seconds'],
        runs.map((r, i) => [i + 1, r.rows, round(r.bytes / 1e6), round(r.s)]),
      ),
    );
    console.log(
      `export of ${SCANS.toLocaleString('en-US')} scans: worst ${round(worst)} s (target ≤ ${TARGET_S} s): ${pass(worst <= TARGET_S && runs.every((r) => r.rows === SCANS))}`,
    );

    // Pages of the log: the first one, one deep in it (after a cursor), and a filtered one, 200 rows each.
    const pages = { first: new LatencyRecorder(), deep: new LatencyRecorder(), filtered: new LatencyRecorder() };
    let cursor: string | null = null;
    for (let i = 0; i < 5; i++)
      cursor = (await call('GET', `/api/v1/events/${ev.id}/scans?limit=1000${cursor ? `&cursor=${cursor}` : ''}`))
        .next_cursor;
    for (let i = 0; i < 50; i++) {
      let start = performance.now();
      await call('GET', `/api/v1/events/${ev.id}/scans`);
      pages.first.record(performance.now() - start);
      start = performance.now();
      await call('GET', `/api/v1/events/${ev.id}/scans?cursor=${cursor}`);
      pages.deep.record(performance.now() - start);
      start = performance.now();
      await call('GET', `/api/v1/events/${ev.id}/scans?gate_id=${gates[2]}&source=offline&reason=already_used`);
      pages.filtered.record(performance.now() - start);
    }
    console.log(
      markdownTable(
        ['scan log page (200 rows)', 'p50 ms', 'p99 ms'],
        Object.entries(pages).map(([k, r]) => [k, round(r.summary().p50), round(r.summary().p99)]),
      ),
    );
    const file = await saveJson(`scan-export-${timestamp()}.json`, {
      scans: SCANS,
      target_s: TARGET_S,
      runs,
      pages: Object.fromEntries(Object.entries(pages).map(([k, r]) => [k, r.summary()])),
    });
    console.log(`saved ${file}`);
  } finally {
    await server.close();
    await db.close();
    await scratch.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
