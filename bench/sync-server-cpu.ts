/**
 * The server's CPU per synced scan in steady state (a diagnostic for work on the sync path):
 *
 *   node --import tsx bench/sync-server-cpu.ts [--devices=10] [--rounds=10] [--warmup=2] [--profile=<file.cpuprofile>]
 *
 * bench:offline's quick run measures the server's CPU per scan over one burst of 40 uploads, of which a
 * large share is the JIT compiling the sync path (a fifth of the server's CPU in a perf profile of it), and its
 * figure moves with the machine's load. Here the same server (bundled, production node options), event,
 * keyed devices and upload bodies (bench/lib/offline.ts: chained, signed, gzipped, 2% of the tickets scanned
 * by two devices) are driven in rounds: every device sends one upload of 500 per round, all at once; the first
 * `--warmup` rounds are not counted. Per round, the server's and PostgreSQL's CPU (from /proc) per scan; the
 * median and spread over the rounds are what to compare before and after a change.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { Api, createBenchEvent, registerScanners } from './lib/api.ts';
import { measureCpu, pidGroup } from './lib/cpu.ts';
import { buildUploads, bulkCreateTicketsWithIds, planOfflineScans, registerKeyedDevices } from './lib/offline.ts';
import { postgresGroupFor } from './lib/pg-processes.ts';
import { analyze, createScratchDatabase } from './lib/postgres.ts';
import { spawnServer } from './lib/spawn-server.ts';

const arg = (name: string, fallback: number): number =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const DEVICES = arg('devices', 10);
const ROUNDS = arg('rounds', 10);
const WARMUP = arg('warmup', 2);
const BATCH = 500;
const PER_DEVICE = (ROUNDS + WARMUP) * BATCH;
const TOTAL = DEVICES * PER_DEVICE;
const TICKETS = Math.ceil((TOTAL * 1.02) / 1000) * 1000 + 1000;
const PROFILE = process.argv.find((a) => a.startsWith('--profile='))?.split('=')[1];
const SERVER_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

const log = (s: string): void => console.log(`[${(performance.now() / 1000).toFixed(1).padStart(6)}s] ${s}`);

const db = await createScratchDatabase('entrada_bench_synccpu');
const server = await spawnServer({ databaseUrl: db.url, nodeArgs: SERVER_NODE_ARGS });
try {
  log(`server pid ${server.pid}; ${TICKETS} tickets, ${DEVICES} devices, ${WARMUP} + ${ROUNDS} rounds of ${BATCH}`);
  const api = new Api(server.url, { connections: 4 });
  const event = await createBenchEvent(api, server.adminToken, 4);
  const { tickets } = await bulkCreateTicketsWithIds(api, server.adminToken, event, TICKETS, 10_000);
  const devices = await registerKeyedDevices(api, server.adminToken, event, DEVICES, 'synccpu');
  // A scan session warms the server's ticket cache for the event, as at a venue (and in bench:offline).
  await registerScanners(api, server.adminToken, event, 1);
  await analyze(db.url);
  const plan = planOfflineScans({
    tickets: TICKETS,
    devices: DEVICES,
    perDevice: PER_DEVICE,
    overlap: 0.02 * (TOTAL / TICKETS),
    windowStart: Date.now() - 3_600_000,
    windowMs: 3_600_000,
    seed: 15,
  });
  const built = buildUploads({
    eventId: event.eventId,
    devices,
    plan,
    codes: tickets.map((t) => t.code),
    batchSize: BATCH,
    gzip: true,
  });
  const pool = new Pool(server.url, { connections: DEVICES, pipelining: 1, headersTimeout: 120_000 });
  const serverGroup = pidGroup(server.pid);
  const pgGroup = postgresGroupFor(db.name);
  const rows: Array<{ server: number; postgres: number; other: number; ms: number }> = [];
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    if (PROFILE && round === WARMUP) await server.startProfile();
    if (round === WARMUP) await server.startQueryCount();
    const cpu = measureCpu({ server: serverGroup, postgres: pgGroup });
    const t0 = performance.now();
    await Promise.all(
      devices.map(async (d, i) => {
        const u = built.perDevice[i]![round]!;
        const res = await pool.request({
          method: 'POST',
          path: '/api/v1/offline/sync',
          headers: {
            authorization: `Bearer ${d.token}`,
            'content-type': 'application/json',
            'content-encoding': 'gzip',
          },
          body: u.body,
        });
        const text = await res.body.text();
        if (res.statusCode !== 200) throw new Error(`upload ${round} of ${d.deviceId}: ${res.statusCode} ${text}`);
      }),
    );
    const ms = performance.now() - t0;
    const u = cpu.stop();
    const scans = DEVICES * BATCH;
    const perScan = (cores: number): number => Math.round(((cores * u.seconds * 1e6) / scans) * 10) / 10;
    const row = { server: perScan(u.groups.server!), postgres: perScan(u.groups.postgres!), other: u.other, ms };
    log(
      `round ${round + 1}${round < WARMUP ? ' (warm-up)' : ''}: ${Math.round(ms)} ms, ${Math.round(scans / (ms / 1000))} scans/s; ` +
        `CPU per scan: server ${row.server} µs, PostgreSQL ${row.postgres} µs; other load ${u.other} cores`,
    );
    if (round >= WARMUP) rows.push(row);
    if (round === WARMUP) {
      const q = await server.stopQueryCount();
      const per = (n: number): string => (n / DEVICES).toFixed(1);
      log(
        `statements per upload: ${per(q.total)} (${Object.entries(q.byStatement)
          .sort((a, b) => b[1] - a[1])
          .map(([k, n]) => `${k} ${per(n)}`)
          .join(', ')})`,
      );
    }
  }
  if (PROFILE) {
    await server.stopProfile(PROFILE);
    log(`server CPU profile of the counted rounds: ${PROFILE} (wall-clock samples: figures above understated)`);
  }
  await pool.close();
  await api.close();
  const med = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const fmt = (xs: number[]): string =>
    `median ${med(xs).toFixed(1)} (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`;
  log(
    `over ${ROUNDS} rounds, CPU per scan: server ${fmt(rows.map((r) => r.server))} µs; PostgreSQL ${fmt(rows.map((r) => r.postgres))} µs; ` +
      `scans/s ${fmt(rows.map((r) => (DEVICES * BATCH) / (r.ms / 1000)))}; other load ${fmt(rows.map((r) => r.other))} cores`,
  );
} finally {
  await server.stop();
  await db.drop();
}
