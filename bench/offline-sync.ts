/**
 * Offline sync and manifest benchmark (issue: offline scanning and sync).
 *
 *   node --import tsx bench/offline-sync.ts [--quick] [--profile] [--skip-pgbench] [--skip-floor] [--skip-baseline] [--raw-uploads] [--wait-quiet]
 *     [--instances=N: N API instances of one installation, with Redis fan-out; devices spread over them]
 *   npm run bench:offline -- --quick
 *
 * 1. Ceiling: pgbench -N on a scratch database of the same PostgreSQL server (bench/lib/pgbench.ts).
 * 2. An Entrada server on a fresh PostgreSQL database, in a child process. Through the HTTP API: an event
 *    (2 zones, 4 gates, 2 ticket types), 100,000 tickets in calls of 10,000, 50 scanner devices that register
 *    an Ed25519 public key (so every upload carries a hash chain and a head signature that the server checks),
 *    and 4 online scanners with scan sessions. A small warm-up event gets a few uploads and a manifest first
 *    (JIT), then the whole database is ANALYZEd once (autovacuum is off on the benchmark server; production
 *    runs it).
 * 3. Manifest: the full manifest (100,000 tickets) for one device with `accept-encoding: gzip` (time to first
 *    byte, total time, bytes on the wire; p50 of 5 runs) and without (raw bytes). Then 1,000 online scans of
 *    tickets no device scans offline, and the delta `?since=<cursor of the full manifest>`: p50 of 7 runs, and
 *    it must hold exactly those 1,000 tickets.
 * 4. Sync: 100,000 offline scans from 50 devices, 2,000 each, 4 uploads of 500 per device (a contiguous seq
 *    run each, chained and signed), 2% of the tickets scanned by two devices (conflicts to reconcile), scan
 *    times spread over the last hour. Every body is built (and gzipped, as devices send them) before timing.
 *    All devices upload at once, each its 4 batches one after the other. Measured: wall time until the last
 *    upload is answered, scans/s, time per upload; verified: every reply 200 with the right summary, and in
 *    SQL the scans, admissions, open conflicts and every device's acked_through.
 * 5. Database floor (bench/lib/sync-floor.ts): only the sync's two essential writes, the server's own
 *    `insertOfflineScans` and `compareAndSetTicketStates`, on rows built before timing: 100,000 scans (one per
 *    ticket) in 200 transactions of 500 (BEGIN, insert 500 scans, compare-and-set 500 tickets, COMMIT) on 20
 *    connections (the server's pool size), directly with `pg`, no server, on the benchmark event's own tables. It
 *    runs after the sync's verification and plan probe; the event then holds a second, synthetic scan per ticket
 *    (the whole-run table statistics include them; the baseline uses its own tables).
 * 5b. The server's irreducible work per scan (bench/lib/server-work.ts: hashing, chain, code digest, JSON, no database),
 *    in this process after the floor; with the floor it gives the least CPU any sync needs per scan here.
 * 6b. Reconcile (bench/lib/reconcile.ts): seed 000's `POST /api/v1/offline/reconcile` on a second event of the same size,
 *    100,000 scans from the same 50 devices in plain JSON batches of 500 (ticket ids and scan times, no seq or chain: seed
 *    000 has none), 2% of the tickets scanned by two devices; verified like the sync (every answer, then SQL). Against it,
 *    seed 000's own per-row loop (bench/lib/seed-reconcile-baseline.ts: SELECT, INSERT and UPDATE per scan, one
 *    transaction per upload) on the same scans. --skip-reconcile skips both; --skip-baseline skips the loop.
 * 6. Baseline: the seeds' per-row loop (a SELECT, an UPDATE and an INSERT per scan, one transaction per upload)
 *    on seed-shaped tables in the same database, directly with `pg`, on the same 100,000 scans.
 * 7. CPU per process group (server, postgres, load generator) during the sync, the floor and the baseline, and what
 *    PostgreSQL's connections were doing (sampled pg_stat_activity, by statement).
 * 8. A markdown table on stdout, JSON in bench/results/offline-<timestamp>.json.
 *
 * --quick: 20,000 tickets, 10 devices (20,000 offline scans), 400 changes, shorter pgbench: a smoke test.
 * --profile: CPU-profiles the server during the gzip manifest runs and the sync (files in
 *   bench/results/profile-offline-<timestamp>/); the profiler costs throughput, so do not compare the figures.
 * --raw-uploads: send the upload bodies as plain JSON instead of gzip.
 * --skip-pgbench, --skip-floor, --skip-baseline, --skip-reconcile: skip those parts. --wait-quiet: wait (up to 3 min) for an idle machine.
 * --overlap=<fraction>: a diagnostic, the share of tickets scanned by two devices (default 0.02; 0 means no two
 *   uploads share a ticket, so none waits for another's ticket locks).
 * --prime-stats: a diagnostic. Before the ANALYZE, one synthetic scan per ticket is inserted for the event (a fake
 *   device), and deleted and VACUUMed right after: the planner's statistics then know the event is large, as they
 *   would once autovacuum has analyzed `scans` in the middle of an event. Without it (the default) the statistics
 *   are those of a fresh event with no scans yet, which is what a sync burst at the start of an event meets.
 * Environment: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres); BENCH_SERVER_NODE_ARGS;
 * BENCH_AUTO_EXPLAIN_MS=<ms>, a diagnostic: loads auto_explain (with ANALYZE timings, which slow every statement)
 * in the benchmark database's sessions, so plans of statements slower than that land in the PostgreSQL log.
 * Every database and folder it creates is removed at the end, and the server child is stopped.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Pool } from 'undici';
import { Api, createBenchEvent, registerScanners, scanOnce, type BenchDevice, type BenchEvent } from './lib/api.ts';
import { createRunControl, round, waitQuiet } from './lib/run-control.ts';
import { machineBusyNow, measureCpu, pidGroup, type CpuUsage } from './lib/cpu.ts';
import { summarizeCpuProfile, type ProfileSummary } from './lib/cpuprofile.ts';
import { fmtMs, LatencyRecorder, type LatencySummary } from './lib/latency.ts';
import { codeFingerprint, machineInfo } from './lib/machine.ts';
import {
  buildUploads,
  bulkCreateTicketsWithIds,
  planOfflineScans,
  registerKeyedDevices,
  type BuiltUploads,
  type IssuedTicket,
  type KeyedDevice,
  type OfflinePlan,
  type Upload,
} from './lib/offline.ts';
import { pgbenchCeiling, type PgbenchResult } from './lib/pgbench.ts';
import { probeSyncPlans, type PlanSample } from './lib/plan-probe.ts';
import { postgresGroupFor } from './lib/pg-processes.ts';
import { sampleQueries, type QuerySampleSummary } from './lib/pg-queries.ts';
import {
  ADMIN_URL,
  analyze,
  appliedMigrations,
  checkpoint,
  createScratchDatabase,
  indexStats,
  serverSettings,
  serverVersion,
  tableStats,
  withClient,
  writeCounters,
} from './lib/postgres.ts';
import { fmtInt, markdownTable, pass, RESULTS_DIR, saveJson, timestamp } from './lib/report.ts';
import {
  buildReconcileUploads,
  checkReconcileDatabase,
  checkReconcileReplies,
  reconcileAll,
  type ReconcileCheck,
  type ReconcileDbCheck,
} from './lib/reconcile.ts';
import { createSeedTables, runSeedBaseline, type SeedBaselineResult } from './lib/seed-baseline.ts';
import { createSeed0Tables, runSeed0Baseline, type Seed0BaselineResult } from './lib/seed-reconcile-baseline.ts';
import { measureServerWork } from './lib/server-work.ts';
import { prepareSyncFloor, runSyncFloor, type SyncFloorResult } from './lib/sync-floor.ts';
import { spawnServer, type ServerProcess } from './lib/spawn-server.ts';

const OPTIONS = [
  '--quick',
  '--profile',
  '--skip-pgbench',
  '--skip-floor',
  '--skip-baseline',
  '--skip-reconcile',
  '--raw-uploads',
  '--wait-quiet',
  '--prime-stats',
];
const args = new Set(process.argv.slice(2));
let overlapOverride: number | null = null;
let instances = 1;
for (const a of args) {
  const m = /^--overlap=(0(?:\.\d+)?|\.\d+)$/.exec(a);
  const n = /^--instances=([1-8])$/.exec(a);
  if (n) {
    instances = Number(n[1]);
    args.delete(a);
  } else if (m && Number(m[1]) <= 0.1) {
    overlapOverride = Number(m[1]);
    args.delete(a);
  } else if (!OPTIONS.includes(a)) {
    console.error(
      `unknown option ${a}\nusage: node --import tsx bench/offline-sync.ts ${OPTIONS.map((o) => `[${o}]`).join(' ')} [--overlap=<0..0.1>] [--instances=<1..8>]`,
    );
    process.exit(2);
  }
}
const QUICK = args.has('--quick');
const PROFILE = args.has('--profile');
const GZIP_UPLOADS = !args.has('--raw-uploads');
const PRIME_STATS = args.has('--prime-stats');
const SERVER_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

const CFG = QUICK
  ? {
      pgbench: {
        scale: 10,
        durationS: 4,
        runs: [
          { clients: 8, threads: 2 },
          { clients: 32, threads: 2 },
        ],
      },
      tickets: 20_000,
      perCall: 10_000,
      gates: 4,
      devices: 10,
      perDevice: 2_000,
      batch: 500,
      overlap: 0.02,
      windowMs: 3_600_000,
      onlineScanners: 4,
      changes: 1_000,
      manifestRuns: 3,
      rawRuns: 2,
      deltaRuns: 5,
      warmup: { tickets: 2_000, devices: 4, perDevice: 500, batch: 250 },
      floor: { connections: 20 },
      baseline: { connections: 20, deadlineMs: 30_000 },
      reconcile: { tickets: 20_000, devices: 10, perDevice: 2_000, batch: 500 },
      watchdogMs: 6 * 60_000,
    }
  : {
      pgbench: {
        scale: 10,
        durationS: 20,
        runs: [
          { clients: 8, threads: 2 },
          { clients: 32, threads: 2 },
        ],
      },
      tickets: 100_000,
      perCall: 10_000,
      gates: 4,
      devices: 50,
      perDevice: 2_000,
      batch: 500,
      overlap: 0.02,
      windowMs: 3_600_000,
      onlineScanners: 4,
      changes: 1_000,
      manifestRuns: 5,
      rawRuns: 3,
      deltaRuns: 7,
      warmup: { tickets: 2_000, devices: 4, perDevice: 500, batch: 250 },
      floor: { connections: 20 },
      baseline: { connections: 20, deadlineMs: 90_000 },
      reconcile: { tickets: 100_000, devices: 50, perDevice: 2_000, batch: 500 },
      watchdogMs: 16 * 60_000,
    };

if (overlapOverride !== null) CFG.overlap = overlapOverride;

const TARGETS = {
  manifestGenerationMs: 1_000,
  manifestWireBytes: 2_000_000,
  deltaMs: 50,
  syncWallMs: 2_000,
  syncScansPerS: 50_000,
  baselineRatio: 10,
  /** Issue #15: the sync at ≥ 0.6 × the database floor, the reconcile at ≥ 5 × seed 000's loop, both measured in the same run. */
  floorRatio: 0.6,
  reconcileRatio: 5,
};

const control = createRunControl({ watchdogMs: CFG.watchdogMs });
const { log, cleanups } = control;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? 0;
const fmtBytes = (b: number): string =>
  b >= 1_000_000 ? `${(b / 1_000_000).toFixed(2)} MB` : `${(b / 1000).toFixed(1)} kB`;
const fmtS = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

function describeCpu(c: CpuUsage): string {
  const g = Object.entries(c.groups)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
  return `CPU (cores of ${c.cores}): ${g}, other ${c.other.toFixed(2)}, machine busy ${c.machineBusy.toFixed(2)}${c.steal > 0.005 ? `, steal ${c.steal.toFixed(2)}` : ''}`;
}

// ---- manifest ------------------------------------------------------------------------------------------------
interface ManifestRun {
  ttfbMs: number;
  totalMs: number;
  wireBytes: number;
  jsonBytes: number;
  encoding: string;
  ticketCount: number;
  serverCpuMs: number;
  /** Cores used by processes other than the server, its database and this generator during the request (foreign load). */
  otherCores: number;
}

interface ManifestBody {
  success: boolean;
  manifest: {
    cursor: string;
    full: boolean;
    ticket_count: number;
    tickets: Array<{ ticket_id: string; current_scans: number }>;
  };
}

/** One GET of a manifest: time to the response headers (the server answers only once the whole body is built), total time, bytes. */
async function getManifest(
  pool: Pool,
  server: ServerProcess,
  database: string,
  device: { token: string; deviceId: string },
  eventId: string,
  gzip: boolean,
  since?: string,
): Promise<{ run: ManifestRun; body: ManifestBody }> {
  const query = `device_id=${encodeURIComponent(device.deviceId)}${since ? `&since=${encodeURIComponent(since)}` : ''}`;
  const headers: Record<string, string> = { authorization: `Bearer ${device.token}` };
  if (gzip) headers['accept-encoding'] = 'gzip';
  const cpu = measureCpu({
    server: pidGroup(server.pid),
    postgres: postgresGroupFor(database),
    loadgen: pidGroup(process.pid),
  });
  const start = performance.now();
  const res = await pool.request({ method: 'GET', path: `/api/v1/offline/manifest/${eventId}?${query}`, headers });
  const ttfbMs = performance.now() - start;
  const buf = Buffer.from(await res.body.arrayBuffer());
  const totalMs = performance.now() - start;
  const usage = cpu.stop();
  if (res.statusCode !== 200) throw new Error(`manifest: HTTP ${res.statusCode} ${buf.toString('utf8').slice(0, 300)}`);
  const encoding = String(res.headers['content-encoding'] ?? 'identity');
  const json = encoding === 'gzip' ? gunzipSync(buf) : buf;
  const body = JSON.parse(json.toString('utf8')) as ManifestBody;
  return {
    run: {
      ttfbMs,
      totalMs,
      wireBytes: buf.length,
      jsonBytes: json.length,
      encoding,
      ticketCount: body.manifest.ticket_count,
      serverCpuMs: Math.round((usage.groups.server ?? 0) * usage.seconds * 1000),
      otherCores: usage.other,
    },
    body,
  };
}

function summarizeManifest(runs: ManifestRun[]): {
  runs: ManifestRun[];
  ttfbP50Ms: number;
  totalP50Ms: number;
  minTotalMs: number;
  maxTotalMs: number;
  wireBytes: number;
  jsonBytes: number;
  serverCpuP50Ms: number;
  disturbedRuns: number;
} {
  return {
    runs,
    disturbedRuns: runs.filter((r) => r.otherCores > 0.3).length,
    ttfbP50Ms: round(median(runs.map((r) => r.ttfbMs)), 1),
    totalP50Ms: round(median(runs.map((r) => r.totalMs)), 1),
    minTotalMs: round(Math.min(...runs.map((r) => r.totalMs)), 1),
    maxTotalMs: round(Math.max(...runs.map((r) => r.totalMs)), 1),
    wireBytes: median(runs.map((r) => r.wireBytes)),
    jsonBytes: median(runs.map((r) => r.jsonBytes)),
    serverCpuP50Ms: median(runs.map((r) => r.serverCpuMs)),
  };
}

// ---- sync ----------------------------------------------------------------------------------------------------
interface SyncReply {
  statusCode: number;
  text: string;
  ms: number;
  doneAtMs: number;
  upload: Upload;
}

interface SyncSummaryBody {
  summary?: { total_uploaded: number; successful: number; duplicates: number; conflicts: number; failed: number };
  acked_through?: number;
  last_seq?: number;
  missing?: unknown[];
  results?: Array<{ sync_status: string; reason?: string }>;
  error?: string;
  message?: string;
}

/** All devices at once, each sending its uploads one after the other; replies are kept as text and checked after the clock stops. */
async function uploadAll(
  pools: Pool[],
  devices: KeyedDevice[],
  built: BuiltUploads,
): Promise<{ wallMs: number; replies: SyncReply[] }> {
  const replies: SyncReply[] = [];
  const start = performance.now();
  await Promise.all(
    devices.map(async (d, i) => {
      const pool = pools[i % pools.length]!;
      const headers: Record<string, string> = {
        authorization: `Bearer ${d.token}`,
        'content-type': 'application/json',
      };
      for (const u of built.perDevice[i]!) {
        const h = u.gzipped ? { ...headers, 'content-encoding': 'gzip' } : headers;
        const s = performance.now();
        try {
          const res = await pool.request({ method: 'POST', path: '/api/v1/offline/sync', headers: h, body: u.body });
          const text = await res.body.text();
          const now = performance.now();
          replies.push({ statusCode: res.statusCode, text, ms: now - s, doneAtMs: now - start, upload: u });
          // A device does not send its next batch after a failed one (it would leave a gap): stop this device.
          if (res.statusCode !== 200) return;
        } catch (err) {
          const now = performance.now();
          replies.push({ statusCode: 0, text: String(err), ms: now - s, doneAtMs: now - start, upload: u });
          return;
        }
      }
    }),
  );
  return { wallMs: performance.now() - start, replies };
}

interface ReplyCheck {
  replies: number;
  ok200: number;
  badStatus: Record<string, number>;
  summaryMismatches: number;
  ackMismatches: number;
  uploadedTotal: number;
  reportedAtUpload: { synced: number; conflict: number; duplicate: number; failed: number };
  failures: string[];
}

function checkReplies(replies: SyncReply[], expectedUploads: number): ReplyCheck {
  const out: ReplyCheck = {
    replies: replies.length,
    ok200: 0,
    badStatus: {},
    summaryMismatches: 0,
    ackMismatches: 0,
    uploadedTotal: 0,
    reportedAtUpload: { synced: 0, conflict: 0, duplicate: 0, failed: 0 },
    failures: [],
  };
  for (const r of replies) {
    if (r.statusCode !== 200) {
      out.badStatus[String(r.statusCode)] = (out.badStatus[String(r.statusCode)] ?? 0) + 1;
      if (out.failures.length < 5)
        out.failures.push(
          `device ${r.upload.deviceIndex} batch ${r.upload.batch}: ${r.statusCode} ${r.text.slice(0, 300)}`,
        );
      continue;
    }
    out.ok200++;
    const b = JSON.parse(r.text) as SyncSummaryBody;
    const s = b.summary;
    out.uploadedTotal += s?.total_uploaded ?? 0;
    // Seed 001's arithmetic: successful + duplicates + failed = total_uploaded, conflicts counted inside failed.
    if (
      !s ||
      s.total_uploaded !== r.upload.scans ||
      s.failed !== s.conflicts ||
      s.duplicates !== 0 ||
      s.successful + s.failed !== r.upload.scans
    ) {
      out.summaryMismatches++;
      if (out.failures.length < 5)
        out.failures.push(`device ${r.upload.deviceIndex} batch ${r.upload.batch}: summary ${JSON.stringify(s)}`);
    }
    if (b.acked_through !== r.upload.toSeq || (b.missing?.length ?? 0) !== 0) {
      out.ackMismatches++;
      if (out.failures.length < 5)
        out.failures.push(
          `device ${r.upload.deviceIndex} batch ${r.upload.batch}: acked_through ${b.acked_through}, expected ${r.upload.toSeq}, missing ${JSON.stringify(b.missing)}`,
        );
    }
    for (const item of b.results ?? []) {
      const k = item.sync_status as keyof ReplyCheck['reportedAtUpload'];
      if (k in out.reportedAtUpload) out.reportedAtUpload[k]++;
    }
  }
  if (replies.length !== expectedUploads && out.failures.length < 5)
    out.failures.push(`${replies.length} replies for ${expectedUploads} uploads`);
  return out;
}

interface DbCheck {
  offlineScans: number;
  onlineScans: number;
  admitted: number;
  conflictScans: number;
  chained: number;
  conflicts: Record<string, number>;
  conflictTicketsMatchPlan: boolean;
  devicesComplete: number;
  devices: number;
  ackedMin: number;
  ackedMax: number;
  received: number;
  flaggedDevices: number;
  ticketsWithEntries: number;
  entries: number;
}

async function checkDatabase(
  url: string,
  eventId: string,
  perDevice: number,
  doubledIds: Set<string>,
): Promise<DbCheck> {
  return withClient(url, async (c) => {
    const s = (
      await c.query<Record<string, string>>(
        `SELECT count(*) FILTER (WHERE source = 'offline') AS offline, count(*) FILTER (WHERE source = 'online') AS online,
         count(*) FILTER (WHERE source = 'offline' AND record_status = 'admitted') AS admitted,
         count(*) FILTER (WHERE source = 'offline' AND record_status = 'conflict') AS conflict,
         count(*) FILTER (WHERE source = 'offline' AND integrity = 'chain') AS chained
       FROM scans WHERE event_id = $1`,
        [eventId],
      )
    ).rows[0]!;
    const conflicts = Object.fromEntries(
      (
        await c.query<{ status: string; n: string }>(
          `SELECT status, count(*) AS n FROM conflicts WHERE event_id = $1 GROUP BY status`,
          [eventId],
        )
      ).rows.map((r) => [r.status, Number(r.n)]),
    );
    const open = (
      await c.query<{ ticket_id: string }>(`SELECT ticket_id FROM conflicts WHERE event_id = $1 AND status = 'open'`, [
        eventId,
      ])
    ).rows;
    const openSet = new Set(open.map((r) => r.ticket_id));
    const conflictTicketsMatchPlan =
      open.length === doubledIds.size &&
      openSet.size === doubledIds.size &&
      [...doubledIds].every((id) => openSet.has(id));
    const d = (
      await c.query<Record<string, string>>(
        `SELECT count(*) AS n, count(*) FILTER (WHERE acked_through = $2 AND last_seq = $2 AND missing = '[]'::jsonb) AS complete,
         min(acked_through) AS amin, max(acked_through) AS amax, coalesce(sum(received), 0) AS received, count(*) FILTER (WHERE flags <> '{}') AS flagged
       FROM device_logs WHERE event_id = $1`,
        [eventId, perDevice],
      )
    ).rows[0]!;
    const t = (
      await c.query<Record<string, string>>(
        `SELECT count(*) FILTER (WHERE entries > 0) AS with_entries, coalesce(sum(entries), 0) AS entries FROM tickets WHERE event_id = $1`,
        [eventId],
      )
    ).rows[0]!;
    return {
      offlineScans: Number(s.offline),
      onlineScans: Number(s.online),
      admitted: Number(s.admitted),
      conflictScans: Number(s.conflict),
      chained: Number(s.chained),
      conflicts,
      conflictTicketsMatchPlan,
      devicesComplete: Number(d.complete),
      devices: Number(d.n),
      ackedMin: Number(d.amin),
      ackedMax: Number(d.amax),
      received: Number(d.received),
      flaggedDevices: Number(d.flagged),
      ticketsWithEntries: Number(t.with_entries),
      entries: Number(t.entries),
    };
  });
}

// ---- set-up ----------------------------------------------------------------------------------------------------
/** A second, small event that gets a manifest and a few uploads first: the server's code paths are compiled before anything is timed. */
async function warmUp(
  api: Api,
  pool: Pool,
  server: ServerProcess,
  devicePrefix = 'bench-warmup',
): Promise<{ ms: number; uploads: number }> {
  const s = performance.now();
  const event = await createBenchEvent(api, server.adminToken, 2);
  const { tickets } = await bulkCreateTicketsWithIds(
    api,
    server.adminToken,
    event,
    CFG.warmup.tickets,
    CFG.warmup.tickets,
  );
  const devices = await registerKeyedDevices(api, server.adminToken, event, CFG.warmup.devices, devicePrefix);
  const plan = planOfflineScans({
    tickets: CFG.warmup.tickets,
    devices: CFG.warmup.devices,
    perDevice: CFG.warmup.perDevice,
    overlap: 0.05,
    windowStart: Date.now() - 30 * 60_000,
    windowMs: 20 * 60_000,
    seed: 7,
  });
  await getManifest(pool, server, '', devices[0]!, event.eventId, true);
  const built = buildUploads({
    eventId: event.eventId,
    devices,
    plan,
    codes: tickets.map((t) => t.code),
    batchSize: CFG.warmup.batch,
    gzip: GZIP_UPLOADS,
  });
  const { replies } = await uploadAll([pool], devices, built);
  const check = checkReplies(replies, built.perDevice.flat().length);
  if (check.ok200 !== replies.length || check.summaryMismatches || check.ackMismatches)
    throw new Error(`warm-up uploads failed: ${check.failures.join('; ')}`);
  await getManifest(pool, server, '', devices[1]!, event.eventId, true);
  return { ms: performance.now() - s, uploads: replies.length };
}

// ---- reconcile (seed 000's endpoint) ---------------------------------------------------------------------------
interface ReconcilePhase {
  scans: number;
  uploads: number;
  wallMs: number;
  scansPerS: number;
  uploadLatencyMs: LatencySummary;
  buildMs: number;
  bodyBytes: number;
  cpu: CpuUsage;
  replies: ReconcileCheck;
  database: ReconcileDbCheck;
  verified: boolean;
  loop: (Seed0BaselineResult & { cpu: CpuUsage; loadMs: number }) | null;
  ratio: number | null;
}

/**
 * Seed 000's reconcile on a fresh event of its own (the sync's event has its tickets admitted already): the same devices
 * (registered for every event of the organisation), all at once, then seed 000's per-row loop on the same scans.
 */
async function reconcilePhase(
  api: Api,
  pool: Pool,
  server: ServerProcess,
  db: { url: string; name: string },
  devices: KeyedDevice[],
  serverGroup: ReturnType<typeof pidGroup>,
  withLoop: boolean,
): Promise<ReconcilePhase> {
  const R = CFG.reconcile;
  const event = await createBenchEvent(api, server.adminToken, CFG.gates);
  const { tickets } = await bulkCreateTicketsWithIds(api, server.adminToken, event, R.tickets, CFG.perCall);
  const plan = planOfflineScans({
    tickets: R.tickets,
    devices: R.devices,
    perDevice: R.perDevice,
    overlap: CFG.overlap,
    windowStart: Date.now() - CFG.windowMs - 5 * 60_000,
    windowMs: CFG.windowMs,
    seed: 20_261_207,
  });
  const users = devices.slice(0, R.devices);
  const built = buildReconcileUploads({ devices: users, plan, tickets, batch: R.batch });
  const uploads = built.perDevice.flat().length;
  await analyze(db.url);
  await checkpoint();
  await waitQuiet({ maxMs: QUICK ? 8_000 : 30_000, sampleMs: 500, consecutive: 1 });
  log(
    `reconcile: ${users.length} devices send ${fmtInt(plan.totalScans)} scans to /api/v1/offline/reconcile at once, ${uploads / users.length} batches of ${R.batch} each (plain JSON, ${fmtBytes(built.bytes)})`,
  );
  const cpu = measureCpu({ server: serverGroup, postgres: postgresGroupFor(db.name), loadgen: pidGroup(process.pid) });
  const run = await reconcileAll(pool, users, built.perDevice);
  const usage = cpu.stop();
  const latency = new LatencyRecorder();
  for (const r of run.replies) latency.record(r.ms);
  const scansPerS = plan.totalScans / (run.wallMs / 1000);
  const replies = checkReconcileReplies(run.replies, uploads);
  const database = await checkReconcileDatabase(
    db.url,
    event.eventId,
    new Set(plan.doubled.map((i) => tickets[i]!.id)),
  );
  const verified =
    replies.ok200 === uploads &&
    replies.mismatches === 0 &&
    replies.reconciled === plan.totalScans &&
    database.offlineScans === plan.totalScans &&
    database.admitted === plan.totalScans - plan.doubled.length &&
    database.conflictScans === plan.doubled.length &&
    database.openConflicts === plan.doubled.length &&
    database.conflictTicketsMatchPlan &&
    database.ticketsWithEntries === plan.totalScans - plan.doubled.length;
  log(
    `reconcile: ${run.replies.length} uploads answered in ${fmtS(run.wallMs)} = ${fmtInt(scansPerS)} scans/s; per upload p50 ${fmtMs(latency.summary().p50)} ms; ${describeCpu(usage)}`,
  );
  // A scan that wins when it arrives and loses to an earlier one uploaded later is answered SUCCESS without `conflict`: only SQL has the final count.
  log(
    `reconcile verification: ${replies.ok200}/${uploads} replies 200, ${fmtInt(replies.reconciled)} reconciled, ${replies.conflictsAnswered} answered as conflicts at upload time; SQL ${fmtInt(database.offlineScans)} scans ` +
      `(${fmtInt(database.admitted)} admitted, ${fmtInt(database.conflictScans)} conflict), ${database.openConflicts} open conflicts (on the doubled tickets: ${database.conflictTicketsMatchPlan}) → ${verified ? 'ALL CORRECT' : `MISMATCH ${replies.failures.join(' | ')}`}`,
  );
  let loop: ReconcilePhase['loop'] = null;
  if (withLoop) {
    const { loadMs } = await createSeed0Tables(
      db.url,
      tickets.map((t) => t.id),
    );
    await checkpoint();
    await waitQuiet({ maxMs: QUICK ? 5_000 : 30_000, sampleMs: 500, consecutive: 1 });
    log(
      `seed 000's per-row reconcile loop, ${CFG.baseline.connections} connections, the same ${fmtInt(plan.totalScans)} scans; tables loaded in ${Math.round(loadMs)} ms`,
    );
    const lcpu = measureCpu({
      postgres: postgresGroupFor(db.name),
      loadgen: pidGroup(process.pid),
      server: serverGroup,
    });
    let loopCpu: CpuUsage | null = null;
    const r = await runSeed0Baseline(db.url, {
      connections: CFG.baseline.connections,
      deadlineMs: CFG.baseline.deadlineMs,
      beforeClose: () => {
        loopCpu = lcpu.stop();
      },
      devices: users.map((d, i) => {
        const scans = plan.perDevice[i]!.map((p) => ({ ticketId: tickets[p.ticket]!.id, at: p.at }));
        const batches: Array<typeof scans> = [];
        for (let k = 0; k < scans.length; k += R.batch) batches.push(scans.slice(k, k + R.batch));
        return { deviceId: d.deviceId, uploads: batches };
      }),
    });
    loop = { ...r, cpu: loopCpu ?? lcpu.stop(), loadMs };
    log(
      `seed 000's loop: ${fmtInt(r.scans)} scans in ${r.durationS.toFixed(2)} s = ${fmtInt(r.scansPerS)} scans/s${r.stoppedEarly ? ' (STOPPED at the deadline)' : ''}; ${r.deadlocks} deadlock victims resent; ${describeCpu(loop.cpu)}`,
    );
  }
  return {
    scans: plan.totalScans,
    uploads,
    wallMs: Math.round(run.wallMs),
    scansPerS: Math.round(scansPerS),
    uploadLatencyMs: latency.summary(),
    buildMs: Math.round(built.buildMs),
    bodyBytes: built.bytes,
    cpu: usage,
    replies,
    database,
    verified,
    loop,
    ratio: loop ? scansPerS / loop.scansPerS : null,
  };
}

// ---- the run -----------------------------------------------------------------------------------------------------
async function main(): Promise<void> {
  const startedAt = new Date();
  const machine = machineInfo();
  const code = codeFingerprint(fileURLToPath(new URL('../', import.meta.url)), [
    'packages/server/src',
    'packages/server/migrations',
    'packages/core/src',
  ]);
  const pgVersion = await serverVersion();
  const pgSettings = await serverSettings();
  const busyBefore = args.has('--wait-quiet')
    ? await waitQuiet({ maxMs: 180_000, sampleMs: 500, consecutive: 1 })
    : await machineBusyNow(1_000);
  control.armWatchdog();
  log(
    `offline-sync benchmark${QUICK ? ' (--quick)' : ''}: ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, PostgreSQL ${pgVersion}`,
  );
  if (busyBefore > 0.25)
    log(
      `warning: the machine was already ${busyBefore.toFixed(2)} cores busy before the benchmark started; figures will suffer`,
    );

  // 1. Ceiling
  let pgbench: PgbenchResult | null = null;
  if (!args.has('--skip-pgbench')) {
    log(
      `pgbench ceiling: -i -s ${CFG.pgbench.scale}, then -N for ${CFG.pgbench.durationS} s at ${CFG.pgbench.runs.map((r) => `-c ${r.clients}`).join(' and ')}`,
    );
    pgbench = await pgbenchCeiling({ ...CFG.pgbench, log: (l) => log(l) });
  }

  // 2. Server, event, tickets, devices
  const db = await createScratchDatabase('entrada_bench_offline');
  cleanups.push(() => db.drop());
  const autoExplainMs = process.env.BENCH_AUTO_EXPLAIN_MS ? Number(process.env.BENCH_AUTO_EXPLAIN_MS) : null;
  if (autoExplainMs !== null && Number.isFinite(autoExplainMs)) {
    await withClient(ADMIN_URL, async (c) => {
      await c.query(`ALTER DATABASE ${db.name} SET session_preload_libraries = 'auto_explain'`);
      await c.query(`ALTER DATABASE ${db.name} SET auto_explain.log_min_duration = ${Math.round(autoExplainMs)}`);
      await c.query(`ALTER DATABASE ${db.name} SET auto_explain.log_analyze = on`);
    });
    log(
      `BENCH_AUTO_EXPLAIN_MS: plans of statements over ${autoExplainMs} ms go to the PostgreSQL log (diagnostic: timings are slowed)`,
    );
  }
  let profileDir: string | null = null;
  if (PROFILE) {
    profileDir = path.join(RESULTS_DIR, `profile-offline-${timestamp(startedAt)}`);
    await mkdir(profileDir, { recursive: true });
    log(`--profile: the server writes CPU profiles to ${profileDir}`);
  }
  // With --instances=N, N API instances of one installation (same secret and admin token, Redis fan-out), as the README
  // recommends for a machine with N cores; each device talks to one of them (a load balancer with keep-alive).
  const shared = {
    secret: randomBytes(32).toString('base64url'),
    adminToken: `eat_bench_${randomBytes(24).toString('base64url')}`,
  };
  const instanceEnv = instances > 1 ? { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' } : undefined;
  const server = await spawnServer({ databaseUrl: db.url, nodeArgs: SERVER_NODE_ARGS, ...shared, env: instanceEnv });
  cleanups.push(() => server.stop());
  log(`Entrada on PostgreSQL (database ${db.name}) listening at ${server.url}, pid ${server.pid}`);
  const extra: ServerProcess[] = [];
  for (let i = 1; i < instances; i++) {
    const more = await spawnServer({ databaseUrl: db.url, nodeArgs: SERVER_NODE_ARGS, ...shared, env: instanceEnv });
    cleanups.push(() => more.stop());
    extra.push(more);
    log(`instance ${i + 1} of ${instances} at ${more.url}, pid ${more.pid} (Redis fan-out ${instanceEnv!.REDIS_URL})`);
  }
  const serverGroup = pidGroup(server.pid, ...extra.map((x) => x.pid));
  const api = new Api(server.url, { connections: 4 });
  cleanups.push(() => api.close().catch(() => undefined));
  const pool = new Pool(server.url, {
    connections: Math.max(CFG.devices, 16),
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: 120_000,
    bodyTimeout: 120_000,
  });
  cleanups.push(() => pool.destroy().catch(() => undefined));

  const event: BenchEvent = await createBenchEvent(api, server.adminToken, CFG.gates);
  log(`bulk-creating ${fmtInt(CFG.tickets)} tickets in calls of ${fmtInt(CFG.perCall)}`);
  const bulk = await bulkCreateTicketsWithIds(api, server.adminToken, event, CFG.tickets, CFG.perCall);
  const tickets: IssuedTicket[] = bulk.tickets;
  log(`bulk create ${fmtS(bulk.totalMs)} (calls: ${bulk.callMs.map((m) => (m / 1000).toFixed(2)).join(', ')} s)`);
  let t = performance.now();
  const devices = await registerKeyedDevices(api, server.adminToken, event, CFG.devices, 'bench-offline');
  const devicesMs = performance.now() - t;
  const scanners: BenchDevice[] = await registerScanners(api, server.adminToken, event, CFG.onlineScanners);
  log(
    `${devices.length} offline devices registered with Ed25519 public keys (${Math.round(devicesMs)} ms); ${scanners.length} online scanners with scan sessions`,
  );

  const extraPools = extra.map(
    (x) =>
      new Pool(x.url, {
        connections: Math.max(CFG.devices, 16),
        pipelining: 1,
        keepAliveTimeout: 60_000,
        headersTimeout: 120_000,
        bodyTimeout: 120_000,
      }),
  );
  for (const p of extraPools) cleanups.push(() => p.destroy().catch(() => undefined));
  const warm = await warmUp(api, pool, server);
  for (let i = 0; i < extra.length; i++) await warmUp(api, extraPools[i]!, extra[i]!, `bench-warmup-${i + 2}`);
  log(`warm-up event: a manifest and ${warm.uploads} uploads (${Math.round(warm.ms)} ms)`);
  if (PRIME_STATS) {
    await withClient(db.url, (c) =>
      c.query(
        `INSERT INTO scans (event_id, id, ticket_id, code_digest, result, reason, admits, direction, device_pk, device_id, scanned_at, received_at, source, seq, integrity, record_status)
       SELECT $1, gen_random_uuid(), t.id, t.code_digest, 'valid', 'admitted_offline', true, 'entry', gen_random_uuid(), 'bench-stats-primer',
         now() - interval '2 hours', now(), 'offline', t.serial, 'chain', 'admitted'
       FROM tickets t WHERE t.event_id = $1`,
        [event.eventId],
      ),
    );
  }
  t = performance.now();
  await analyze(db.url);
  const analyzeMs = performance.now() - t;
  if (PRIME_STATS) {
    await withClient(db.url, async (c) => {
      await c.query(`DELETE FROM scans WHERE event_id = $1 AND device_id = 'bench-stats-primer'`, [event.eventId]);
      await c.query('VACUUM scans');
    });
    log(
      `--prime-stats: ANALYZE saw ${fmtInt(CFG.tickets)} synthetic scans of the event (since deleted and vacuumed): the planner knows the event is large`,
    );
  }
  log(
    `ANALYZE of the benchmark database done (${Math.round(analyzeMs)} ms): autovacuum is off on this server, so these are the only statistics the planner gets`,
  );
  await checkpoint();
  const quiet = await waitQuiet({ maxMs: QUICK ? 8_000 : 30_000, sampleMs: 500, consecutive: 1 });
  if (quiet >= 0.3) {
    const m = measureCpu({
      server: pidGroup(server.pid),
      postgres: postgresGroupFor(db.name),
      loadgen: pidGroup(process.pid),
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    log(`warning: the machine is still busy before the manifest runs: ${describeCpu(m.stop())}`);
  }

  // 3. Manifest: full (gzip, raw), then changes and the delta
  if (PROFILE) await server.startProfile();
  const gzRuns: ManifestRun[] = [];
  let cursor = '';
  for (let i = 0; i < CFG.manifestRuns; i++) {
    // Every timed full manifest is a build: the server caches an event's manifest while nothing changes.
    await server.clearManifestCache();
    const { run, body } = await getManifest(pool, server, db.name, devices[0]!, event.eventId, true);
    if (!body.manifest.full || run.ticketCount !== CFG.tickets || body.manifest.tickets.length !== CFG.tickets) {
      throw new Error(
        `full manifest: ${run.ticketCount} tickets (full=${body.manifest.full}), expected ${CFG.tickets}`,
      );
    }
    cursor = body.manifest.cursor;
    gzRuns.push(run);
    log(
      `full manifest (gzip) run ${i + 1}: first byte ${fmtMs(run.ttfbMs)} ms, total ${fmtMs(run.totalMs)} ms, ${fmtBytes(run.wireBytes)} on the wire (${fmtBytes(run.jsonBytes)} JSON), server CPU ${run.serverCpuMs} ms${run.otherCores > 0.3 ? ` (FOREIGN LOAD ${run.otherCores.toFixed(2)} cores)` : ''}`,
    );
  }
  let manifestProfile: ProfileSummary | null = null;
  if (PROFILE && profileDir) {
    const file = path.join(profileDir, 'manifest-gzip.cpuprofile');
    await server.stopProfile(file);
    manifestProfile = await summarizeCpuProfile(file, 25, [
      'answer',
      'manifestTicketPage',
      'manifestTicket',
      'gzipPieces',
      'toTicket',
      'query',
    ]);
    log(`server CPU profile of the gzip manifest runs: ${file}; self time by origin:`);
    for (const o of manifestProfile.byOrigin.slice(0, 10)) log(`  ${o.pct.toFixed(1).padStart(5)}%  ${o.origin}`);
    for (const f of manifestProfile.inclusive) log(`  inclusive ${f.pct.toFixed(1).padStart(5)}%  ${f.fn}`);
  }
  const rawRuns: ManifestRun[] = [];
  for (let i = 0; i < CFG.rawRuns; i++) {
    await server.clearManifestCache();
    const { run } = await getManifest(pool, server, db.name, devices[1]!, event.eventId, false);
    rawRuns.push(run);
    log(
      `full manifest (no gzip) run ${i + 1}: first byte ${fmtMs(run.ttfbMs)} ms, total ${fmtMs(run.totalMs)} ms, ${fmtBytes(run.wireBytes)}${run.otherCores > 0.3 ? ` (FOREIGN LOAD ${run.otherCores.toFixed(2)} cores)` : ''}`,
    );
  }
  // What the other devices of a reconnecting gate get: the same manifest, from the cache (one query checks it is current).
  const cachedRuns: ManifestRun[] = [];
  for (let i = 0; i < CFG.manifestRuns; i++)
    cachedRuns.push((await getManifest(pool, server, db.name, devices[(i % 2) + 2]!, event.eventId, true)).run);
  const fullGz = summarizeManifest(gzRuns);
  const fullRaw = summarizeManifest(rawRuns);
  const cachedGz = summarizeManifest(cachedRuns);
  log(
    `full manifest (gzip) from the cache: p50 ${fmtMs(cachedGz.totalP50Ms)} ms, server CPU ${cachedGz.serverCpuP50Ms} ms`,
  );

  // The plan decides which tickets stay unscanned offline; the changes are online scans of some of those.
  const windowStart = Date.now() - CFG.windowMs - 5 * 60_000;
  const plan: OfflinePlan = planOfflineScans({
    tickets: CFG.tickets,
    devices: CFG.devices,
    perDevice: CFG.perDevice,
    overlap: CFG.overlap,
    windowStart,
    windowMs: CFG.windowMs,
    seed: 20_261_121,
  });
  const changes = Math.min(CFG.changes, plan.notScanned.length);
  const changed = plan.notScanned.slice(0, changes);
  log(`changes: ${changes} online scans (POST /api/v1/scanning/scan) of tickets no device scans offline`);
  let next = 0;
  const outcomes: Record<string, number> = {};
  const c0 = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async (_, w) => {
      while (next < changed.length) {
        const i = next++;
        const label = await scanOnce(pool, scanners[w % scanners.length]!, tickets[changed[i]!]!.code);
        outcomes[label] = (outcomes[label] ?? 0) + 1;
      }
    }),
  );
  const changesMs = performance.now() - c0;
  if ((outcomes.valid ?? 0) !== changes) throw new Error(`online scans for the delta: ${JSON.stringify(outcomes)}`);
  log(`${changes} online scans, all valid, in ${Math.round(changesMs)} ms`);

  const deltaRuns: ManifestRun[] = [];
  const changedIds = new Set(changed.map((i) => tickets[i]!.id));
  let deltaExact = true;
  for (let i = 0; i < CFG.deltaRuns; i++) {
    const { run, body } = await getManifest(pool, server, db.name, devices[0]!, event.eventId, true, cursor);
    const ids = body.manifest.tickets.map((x) => x.ticket_id);
    const exact =
      !body.manifest.full &&
      ids.length === changes &&
      ids.every((id) => changedIds.has(id)) &&
      new Set(ids).size === changes &&
      body.manifest.tickets.every((x) => x.current_scans === 1);
    deltaExact &&= exact;
    deltaRuns.push(run);
    log(
      `delta manifest run ${i + 1}: ${run.ticketCount} tickets${exact ? ' (exactly the changed ones)' : ' (NOT the changed set!)'}, first byte ${fmtMs(run.ttfbMs)} ms, total ${fmtMs(run.totalMs)} ms, ${fmtBytes(run.wireBytes)}`,
    );
  }
  const delta = summarizeManifest(deltaRuns);

  // 4. Sync. Wait for a quiet machine before the bodies are built: each carries its device's clock (device_time) at build
  // time, and a wait after it (45 s on a busy machine) plus the burst made them a minute stale, flagged clock_skew.
  await checkpoint();
  const quietSync = await waitQuiet({ maxMs: QUICK ? 10_000 : 45_000, sampleMs: 500, consecutive: 1 });
  log(
    `building ${fmtInt(plan.totalScans)} offline scans into ${CFG.devices * Math.ceil(CFG.perDevice / CFG.batch)} upload bodies (chain, signature, JSON${GZIP_UPLOADS ? ', gzip' : ''})`,
  );
  const built = buildUploads({
    eventId: event.eventId,
    devices,
    plan,
    codes: tickets.map((x) => x.code),
    batchSize: CFG.batch,
    gzip: GZIP_UPLOADS,
  });
  const uploadCount = built.perDevice.flat().length;
  log(
    `bodies built in ${Math.round(built.buildMs)} ms (chain + signatures ${Math.round(built.chainMs)} ms, JSON ${Math.round(built.jsonMs)} ms, gzip ${Math.round(built.gzipMs)} ms): ` +
      `${fmtBytes(built.rawBytes)} of JSON, ${fmtBytes(built.wireBytes)} on the wire (${fmtBytes(built.wireBytes / uploadCount)} per upload)`,
  );
  await checkpoint();
  if (quietSync >= 0.3)
    log(`warning: the machine is ${quietSync.toFixed(2)} cores busy with something else before the sync`);

  log(
    `sync: ${CFG.devices} devices upload at once, ${Math.ceil(CFG.perDevice / CFG.batch)} batches of ${CFG.batch} each, one after the other`,
  );
  const writesBefore = await writeCounters(ADMIN_URL);
  const cpu = measureCpu({ server: serverGroup, postgres: postgresGroupFor(db.name), loadgen: pidGroup(process.pid) });
  const activity = sampleQueries(ADMIN_URL, db.name, 20);
  if (PROFILE) await server.startProfile();
  const sync = await uploadAll([pool, ...extraPools], devices, built);
  const syncProfileFile = PROFILE && profileDir ? path.join(profileDir, 'sync.cpuprofile') : null;
  if (syncProfileFile) await server.stopProfile(syncProfileFile);
  const syncCpu = cpu.stop();
  const syncActivity: QuerySampleSummary = await activity.stop();
  const writesAfter = await writeCounters(ADMIN_URL);
  const scansPerS = plan.totalScans / (sync.wallMs / 1000);
  const batchLatency = new LatencyRecorder();
  const perBatchNo = new Map<number, LatencyRecorder>();
  for (const r of sync.replies) {
    batchLatency.record(r.ms);
    const rec = perBatchNo.get(r.upload.batch) ?? new LatencyRecorder();
    rec.record(r.ms);
    perBatchNo.set(r.upload.batch, rec);
  }
  const batchMs: LatencySummary = batchLatency.summary();
  log(
    `sync: ${sync.replies.length} uploads answered in ${fmtS(sync.wallMs)} = ${fmtInt(scansPerS)} scans/s; per upload p50 ${fmtMs(batchMs.p50)} / p99 ${fmtMs(batchMs.p99)} / max ${fmtMs(batchMs.max)} ms`,
  );
  log(`sync: ${describeCpu(syncCpu)}`);
  if (syncCpu.other > 0.15)
    log(
      `warning: ${syncCpu.other.toFixed(2)} cores went to other processes during the sync (foreign load): the figures understate this code`,
    );
  log(`sync: PostgreSQL connections (avg per sample): ${JSON.stringify(syncActivity.byState)}`);
  for (const s of syncActivity.byStatement.slice(0, 8))
    log(`  ${s.share.toFixed(1).padStart(5)}% of active  ${s.wait.padEnd(24)} ${s.statement}`);
  log('sync: PostgreSQL connections on CPU, by statement:');
  for (const s of syncActivity.cpuByStatement.slice(0, 8))
    log(`  ${s.share.toFixed(1).padStart(5)}% of on-CPU samples  ${s.statement}`);
  const replyCheck = checkReplies(sync.replies, uploadCount);
  if (replyCheck.failures.length > 0) log(`sync problems: ${replyCheck.failures.join(' | ')}`);
  const doubledIds = new Set(plan.doubled.map((i) => tickets[i]!.id));
  const dbCheck = await checkDatabase(db.url, event.eventId, CFG.perDevice, doubledIds);
  const expected = {
    offlineScans: plan.totalScans,
    admitted: plan.totalScans - plan.doubled.length,
    openConflicts: plan.doubled.length,
    devicesComplete: CFG.devices,
    ticketsWithEntries: plan.totalScans - plan.doubled.length + changes,
  };
  const verified =
    replyCheck.ok200 === uploadCount &&
    replyCheck.summaryMismatches === 0 &&
    replyCheck.ackMismatches === 0 &&
    replyCheck.uploadedTotal === plan.totalScans &&
    dbCheck.offlineScans === expected.offlineScans &&
    dbCheck.admitted === expected.admitted &&
    dbCheck.conflictScans === expected.openConflicts &&
    (dbCheck.conflicts.open ?? 0) === expected.openConflicts &&
    dbCheck.conflictTicketsMatchPlan &&
    dbCheck.chained === expected.offlineScans &&
    dbCheck.devicesComplete === expected.devicesComplete &&
    dbCheck.flaggedDevices === 0 &&
    dbCheck.ticketsWithEntries === expected.ticketsWithEntries;
  log(
    `verification: ${replyCheck.ok200}/${uploadCount} replies 200, summary.total_uploaded sum ${fmtInt(replyCheck.uploadedTotal)}; SQL: ${fmtInt(dbCheck.offlineScans)} offline scans ` +
      `(${fmtInt(dbCheck.admitted)} admitted, ${fmtInt(dbCheck.conflictScans)} conflict, ${fmtInt(dbCheck.chained)} chain-verified), conflicts ${JSON.stringify(dbCheck.conflicts)} ` +
      `(expected ${expected.openConflicts} open, on exactly the doubled tickets: ${dbCheck.conflictTicketsMatchPlan}), devices with acked_through = ${CFG.perDevice}: ${dbCheck.devicesComplete}/${dbCheck.devices} ` +
      `→ ${verified ? 'ALL CORRECT' : 'MISMATCH'}`,
  );
  const migrations = await appliedMigrations(db.url);

  // Plans of one upload's statements on the data the sync left: with the statistics the sync ran with, then after a fresh ANALYZE.
  const probeDevice = 0;
  const lastRun = plan.perDevice[probeDevice]!.slice(-CFG.batch);
  const firstSeq = CFG.perDevice - lastRun.length + 1;
  const devicePk = await withClient(
    db.url,
    async (c) =>
      (await c.query<{ id: string }>('SELECT id FROM devices WHERE device_id = $1', [devices[probeDevice]!.deviceId]))
        .rows[0]!.id,
  );
  const probeInput = {
    eventId: event.eventId,
    devicePk,
    ticketIds: lastRun.map((p) => tickets[p.ticket]!.id),
    seqs: [...Array.from({ length: lastRun.length }, (_, i) => firstSeq + i), firstSeq - 1, CFG.perDevice + 1],
  };
  const probeStale = await probeSyncPlans(db.url, probeInput);
  await analyze(db.url);
  const probeFresh = await probeSyncPlans(db.url, probeInput);
  const describePlan = (p: PlanSample): string =>
    `${fmtMs(p.executionMs)} ms, ${p.access.join(' + ') || 'no table scan'}${p.rowsRemoved > 0 ? `, ${fmtInt(p.rowsRemoved)} rows filtered out` : ''}`;
  log(
    `plans of one ${CFG.batch}-scan upload's statements after the sync (${fmtInt(dbCheck.offlineScans)} scans stored), with the statistics the sync ran with → after a fresh ANALYZE:`,
  );
  for (const s of probeStale.samples) {
    const f = probeFresh.samples.find((x) => x.statement === s.statement);
    log(`  ${s.statement.padEnd(20)} ${describePlan(s)}  →  ${f ? describePlan(f) : '?'}`);
  }
  let syncProfile: ProfileSummary | null = null;
  if (syncProfileFile) {
    syncProfile = await summarizeCpuProfile(syncProfileFile, 25, [
      'sync',
      'prepare',
      'results',
      'reconcileTickets',
      'verifyChain',
      'payloadHash',
      'query',
      'classify',
      'parse',
      'gunzipRequestBody',
    ]);
    log(`server CPU profile of the sync: ${syncProfileFile} (busy ${syncProfile.busyMs} ms); self time by origin:`);
    for (const o of syncProfile.byOrigin.slice(0, 12)) log(`  ${o.pct.toFixed(1).padStart(5)}%  ${o.origin}`);
    for (const f of syncProfile.topFunctions.slice(0, 12))
      log(`  fn ${f.pct.toFixed(1).padStart(5)}%  ${f.fn}  [${f.origin}]`);
    for (const f of syncProfile.inclusive) log(`  inclusive ${f.pct.toFixed(1).padStart(5)}%  ${f.fn}`);
  }

  // 5. Database floor: only the sync's two essential writes, precomputed, on the same event's tables, no server
  let floor: SyncFloorResult | null = null;
  if (!args.has('--skip-floor')) {
    const floorPlan = await prepareSyncFloor(db.url, {
      eventId: event.eventId,
      devices: CFG.devices,
      perDevice: CFG.perDevice,
      batch: CFG.batch,
      gateIds: event.gateIds,
      windowStart: Date.now() - CFG.windowMs - 5 * 60_000,
      windowMs: CFG.windowMs,
    });
    await checkpoint();
    await waitQuiet({ maxMs: QUICK ? 5_000 : 30_000, sampleMs: 500, consecutive: 1 });
    log(
      `database floor: ${fmtInt(floorPlan.scans)} scans, one per ticket, in ${floorPlan.transactions.length} transactions of ${CFG.batch} (insertOfflineScans + compareAndSetTicketStates), ` +
        `${CFG.floor.connections} connections, no server; rows built in ${Math.round(floorPlan.precomputeMs)} ms`,
    );
    floor = await runSyncFloor(floorPlan, {
      adminUrl: ADMIN_URL,
      connections: CFG.floor.connections,
      cpuGroups: { postgres: postgresGroupFor(db.name), loadgen: pidGroup(process.pid), server: serverGroup },
    });
    log(
      `database floor: ${fmtInt(floor.scans)} scans in ${fmtS(floor.wallMs)} = ${fmtInt(floor.scansPerS)} scans/s; per transaction p50 ${fmtMs(floor.transactionLatencyMs.p50)} / p99 ${fmtMs(floor.transactionLatencyMs.p99)} ms; ` +
        `${fmtInt(floor.inserted)} scans inserted, ${fmtInt(floor.ticketsWritten)} tickets written${floor.complete ? '' : ' (INCOMPLETE: some rows were not written)'}; ` +
        `CPU per scan: PostgreSQL ${floor.cpuUsPerScan.postgres} µs, load generator ${floor.cpuUsPerScan.loadgen} µs; WAL ${fmtInt(floor.walBytesPerScan)} B per scan` +
        `${floor.ticketUpdates ? `; tickets updates ${fmtInt(floor.ticketUpdates.updates)}, ${fmtInt(floor.ticketUpdates.hot)} HOT` : ''}`,
    );
    log(`database floor: ${describeCpu(floor.cpu)}`);
    if (floor.cpu.other > 0.15)
      log(
        `warning: ${floor.cpu.other.toFixed(2)} cores went to other processes during the database floor (foreign load)`,
      );
  }
  // 5b. The server's irreducible work per scan (hashing, chain, code digest, JSON), in this process, no database
  const serverWork = floor ? measureServerWork(QUICK ? 100 : 400) : null;
  if (serverWork)
    log(
      `the server's irreducible work: ${serverWork.totalUs} µs per scan (${serverWork.steps.map((x) => `${x.step} ${x.us}`).join(', ')})`,
    );

  // 6. The seeds' per-row loop on the same scans
  let baseline: (SeedBaselineResult & { cpu: CpuUsage; loadMs: number }) | null = null;
  if (!args.has('--skip-baseline')) {
    const seedTickets = tickets.map((x, i) => ({ code: x.code, number: x.number, type: i % 50 === 0 ? 'VIP' : 'GA' }));
    const { loadMs } = await createSeedTables(db.url, event.eventId, seedTickets);
    await checkpoint();
    await waitQuiet({ maxMs: QUICK ? 5_000 : 30_000, sampleMs: 500, consecutive: 1 });
    log(
      `per-row baseline (seed 001's loop in seed 000's transaction per upload), ${CFG.baseline.connections} connections, same ${fmtInt(plan.totalScans)} scans; tables loaded in ${Math.round(loadMs)} ms`,
    );
    const bcpu = measureCpu({
      postgres: postgresGroupFor(db.name),
      loadgen: pidGroup(process.pid),
      server: serverGroup,
    });
    let baselineCpu: CpuUsage | null = null;
    const r = await runSeedBaseline(db.url, {
      eventId: event.eventId,
      connections: CFG.baseline.connections,
      deadlineMs: CFG.baseline.deadlineMs,
      beforeClose: () => {
        baselineCpu = bcpu.stop();
      },
      devices: devices.map((d, i) => {
        const scans = plan.perDevice[i]!.map((p) => ({ qrcode: tickets[p.ticket]!.code, at: p.at }));
        const uploads: Array<typeof scans> = [];
        for (let k = 0; k < scans.length; k += CFG.batch) uploads.push(scans.slice(k, k + CFG.batch));
        return { deviceId: d.deviceId, uploads };
      }),
    });
    baseline = { ...r, cpu: baselineCpu ?? bcpu.stop(), loadMs };
    log(
      `per-row baseline: ${fmtInt(r.scans)} scans in ${r.durationS.toFixed(2)} s = ${fmtInt(r.scansPerS)} scans/s (${fmtInt(r.statementsPerS)} statements/s)${r.stoppedEarly ? ' (STOPPED at the deadline)' : ''}; ${r.deadlocks} uploads rolled back as deadlock victims and resent; ` +
        `outcomes ${JSON.stringify(r.outcomes)}; per upload p50 ${fmtMs(r.uploadLatencyMs.p50)} ms`,
    );
    log(`per-row baseline: ${describeCpu(baseline.cpu)}`);
  }

  // 6b. Seed 000's reconcile and its per-row loop
  const reconcile = args.has('--skip-reconcile')
    ? null
    : await reconcilePhase(api, pool, server, db, devices, serverGroup, !args.has('--skip-baseline'));

  await api.close();
  await pool.close().catch(() => undefined);
  for (const p of extraPools) await p.close().catch(() => undefined);
  await server.stop();
  for (const x of extra) await x.stop();
  // After the server's connections closed: their backends flushed their statistics on exit.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const tables = await tableStats(db.url, ['tickets', 'scans', 'conflicts', 'device_logs', 'sync_sessions']);
  const scanIndexes = await indexStats(db.url, ['scans', 'tickets']);
  const tk = tables.find((x) => x.table === 'tickets');
  if (floor)
    log(
      `the table statistics below cover the whole run, the database floor's ${fmtInt(floor.inserted)} scans and ${fmtInt(floor.ticketsWritten)} ticket updates included`,
    );
  for (const x of tables)
    log(
      `table ${x.table}: ${fmtInt(x.inserts)} inserts, ${fmtInt(x.updates)} updates of which ${fmtInt(x.hotUpdates)} HOT, ${x.indexes} indexes, ${(x.totalBytes / 2 ** 20).toFixed(1)} MiB`,
    );
  log(
    `index uses / entries read: ${scanIndexes
      .filter((i) => i.scans > 0)
      .map((i) => `${i.index} ${fmtInt(i.scans)} / ${fmtInt(i.entriesRead)}`)
      .join(', ')}`,
  );
  await db.drop();

  // 8. Report
  const ceilingRun = pgbench?.runs.find((r) => r.clients === 32) ?? pgbench?.runs.at(-1) ?? null;
  const ratio = baseline ? scansPerS / baseline.scansPerS : null;
  const targets = [
    {
      target: `full manifest generation (time to first byte, gzip, p50) ≤ ${TARGETS.manifestGenerationMs / 1000} s`,
      value: `${fmtMs(fullGz.ttfbP50Ms)} ms (total ${fmtMs(fullGz.totalP50Ms)} ms)`,
      ok: QUICK ? null : fullGz.ttfbP50Ms <= TARGETS.manifestGenerationMs,
    },
    {
      target: `full manifest on the wire (gzip) ≤ ${fmtBytes(TARGETS.manifestWireBytes)}`,
      value: fmtBytes(fullGz.wireBytes),
      ok: QUICK ? null : fullGz.wireBytes <= TARGETS.manifestWireBytes,
    },
    {
      target: `delta manifest (${changes} changes, p50) ≤ ${TARGETS.deltaMs} ms`,
      value: `${fmtMs(delta.totalP50Ms)} ms`,
      ok: delta.totalP50Ms <= TARGETS.deltaMs,
    },
    { target: 'delta manifest holds exactly the changed tickets', value: deltaExact ? 'yes' : 'no', ok: deltaExact },
    {
      target: `sync of ${fmtInt(plan.totalScans)} scans fully reconciled ≤ ${TARGETS.syncWallMs / 1000} s`,
      value: fmtS(sync.wallMs),
      ok: QUICK ? null : sync.wallMs <= TARGETS.syncWallMs,
    },
    {
      target: `sync ≥ ${fmtInt(TARGETS.syncScansPerS)} scans/s`,
      value: `${fmtInt(scansPerS)} scans/s`,
      ok: scansPerS >= TARGETS.syncScansPerS,
    },
    {
      target: 'every upload 200, summaries, acked_through and SQL counts as expected',
      value: verified ? 'yes' : 'no',
      ok: verified,
    },
    {
      target: `≥ ${TARGETS.baselineRatio}× the seeds' per-row loop`,
      value: ratio === null ? 'n/a' : `${ratio.toFixed(1)}×`,
      ok: ratio === null ? null : ratio >= TARGETS.baselineRatio,
    },
    {
      target: `sync ≥ ${TARGETS.floorRatio}× the database floor`,
      value: floor ? `${(scansPerS / floor.scansPerS).toFixed(2)}×` : 'n/a',
      ok: floor ? scansPerS / floor.scansPerS >= TARGETS.floorRatio : null,
    },
    {
      target: 'reconcile: every answer 200, every scan reconciled, SQL counts as expected',
      value: reconcile ? (reconcile.verified ? 'yes' : 'no') : 'n/a',
      ok: reconcile ? reconcile.verified : null,
    },
    {
      target: `reconcile ≥ ${TARGETS.reconcileRatio}× seed 000's per-row loop`,
      value: reconcile?.ratio ? `${reconcile.ratio.toFixed(1)}×` : 'n/a',
      ok: reconcile?.ratio ? reconcile.ratio >= TARGETS.reconcileRatio : null,
    },
  ];

  const rows: Array<Array<string | number>> = [];
  if (pgbench) {
    for (const r of pgbench.runs)
      rows.push([
        `pgbench -N -c ${r.clients} -j ${r.threads} -T ${r.durationS} (scale ${pgbench.scale})`,
        `${fmtInt(r.tps)} tps`,
        `latency avg ${r.latencyAvgMs ?? '?'} ms`,
      ]);
  }
  rows.push([
    `bulk create ${fmtInt(tickets.length)} tickets (${bulk.callMs.length} calls)`,
    fmtS(bulk.totalMs),
    `per call ${bulk.callMs.map((m) => (m / 1000).toFixed(2)).join(', ')} s`,
  ]);
  rows.push([
    `full manifest, ${fmtInt(CFG.tickets)} tickets, gzip (p50 of ${gzRuns.length})`,
    `first byte ${fmtMs(fullGz.ttfbP50Ms)} ms`,
    `total ${fmtMs(fullGz.totalP50Ms)} ms (min ${fmtMs(fullGz.minTotalMs)}, max ${fmtMs(fullGz.maxTotalMs)}); ${fmtBytes(fullGz.wireBytes)} on the wire = ${(fullGz.wireBytes / CFG.tickets).toFixed(1)} B/ticket; server CPU ${fullGz.serverCpuP50Ms} ms per manifest${fullGz.disturbedRuns ? `; ${fullGz.disturbedRuns} run(s) with FOREIGN LOAD` : ''}`,
  ]);
  rows.push([
    `full manifest, gzip, served from the cache (p50 of ${cachedRuns.length})`,
    `first byte ${fmtMs(cachedGz.ttfbP50Ms)} ms`,
    `total ${fmtMs(cachedGz.totalP50Ms)} ms (max ${fmtMs(cachedGz.maxTotalMs)}); server CPU ${cachedGz.serverCpuP50Ms} ms per manifest; the builds above each follow a cache clear`,
  ]);
  rows.push([
    `full manifest, no gzip (p50 of ${rawRuns.length})`,
    `first byte ${fmtMs(fullRaw.ttfbP50Ms)} ms`,
    `total ${fmtMs(fullRaw.totalP50Ms)} ms; ${fmtBytes(fullRaw.wireBytes)} = ${(fullRaw.wireBytes / CFG.tickets).toFixed(0)} B/ticket; server CPU ${fullRaw.serverCpuP50Ms} ms${fullRaw.disturbedRuns ? `; ${fullRaw.disturbedRuns} run(s) with FOREIGN LOAD` : ''}`,
  ]);
  rows.push([`${changes} online scans (the changes)`, `${Math.round(changesMs)} ms`, '8 in flight, all valid']);
  rows.push([
    `delta manifest ?since=cursor (p50 of ${deltaRuns.length})`,
    `${fmtMs(delta.totalP50Ms)} ms`,
    `first byte ${fmtMs(delta.ttfbP50Ms)} ms, min ${fmtMs(delta.minTotalMs)} / max ${fmtMs(delta.maxTotalMs)} ms; ${delta.runs[0]?.ticketCount ?? 0} tickets${deltaExact ? ', exactly the changed ones' : ', NOT the changed set'}; ${fmtBytes(delta.wireBytes)} gzip`,
  ]);
  rows.push([
    `upload bodies (${uploadCount} × ${CFG.batch} scans), built before timing`,
    `${Math.round(built.buildMs)} ms`,
    `chain + ${uploadCount} Ed25519 signatures ${Math.round(built.chainMs)} ms, JSON ${Math.round(built.jsonMs)} ms, gzip ${Math.round(built.gzipMs)} ms; ${fmtBytes(built.rawBytes)} JSON → ${fmtBytes(built.wireBytes)} on the wire`,
  ]);
  rows.push([
    `**sync: ${fmtInt(plan.totalScans)} scans, ${CFG.devices} devices in parallel, ${uploadCount} uploads${instances > 1 ? `, ${instances} API instances (Redis fan-out)` : ', one API instance'}**`,
    `**${fmtS(sync.wallMs)}**`,
    `**${fmtInt(scansPerS)} scans/s**; ${replyCheck.ok200}/${uploadCount} replies 200`,
  ]);
  rows.push([
    'time per upload (500 scans)',
    `p50 ${fmtMs(batchMs.p50)} ms`,
    `p99 ${fmtMs(batchMs.p99)} / max ${fmtMs(batchMs.max)} ms; by batch number: ${[...perBatchNo]
      .sort((a, b) => a[0] - b[0])
      .map(([b, r]) => `#${b} p50 ${fmtMs(r.summary().p50)}`)
      .join(', ')} ms`,
  ]);
  rows.push([
    'verification (SQL after the sync)',
    verified ? 'correct' : 'MISMATCH',
    `${fmtInt(dbCheck.offlineScans)} offline scans (${fmtInt(dbCheck.admitted)} admitted, ${fmtInt(dbCheck.conflictScans)} conflict, ${fmtInt(dbCheck.chained)} chain-verified); open conflicts ${dbCheck.conflicts.open ?? 0} (expected ${expected.openConflicts}, ${dbCheck.conflictTicketsMatchPlan ? 'exactly the doubled tickets' : 'NOT the doubled tickets'}); acked_through = ${CFG.perDevice} on ${dbCheck.devicesComplete}/${CFG.devices} devices; conflicts reported at upload time ${fmtInt(replyCheck.reportedAtUpload.conflict)}`,
  ]);
  rows.push([
    'CPU during the sync',
    `${syncCpu.machineBusy.toFixed(2)} of ${syncCpu.cores} cores busy`,
    `${Object.entries(syncCpu.groups)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(
        ', ',
      )}, other ${syncCpu.other.toFixed(2)}${syncCpu.other > 0.15 ? ' (FOREIGN LOAD: figures understated)' : ''}, steal ${syncCpu.steal.toFixed(2)}; postgres = this database's backends + the server's background processes`,
  ]);
  rows.push([
    'PostgreSQL connections during the sync',
    'avg per sample',
    Object.entries(syncActivity.byState)
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
  ]);
  const tx = writesAfter.nextXid - writesBefore.nextXid;
  if (tk) {
    rows.push([
      `tickets table after the run (whole run${floor ? ', database floor included' : ''})`,
      `${fmtInt(tk.updates)} updates`,
      `${fmtInt(tk.hotUpdates)} HOT (${tk.updates ? ((tk.hotUpdates / tk.updates) * 100).toFixed(0) : 0}%); ${tk.indexes} indexes: a non-HOT update adds an entry to each` +
        `${floor ? `; ${fmtInt(floor.ticketsWritten)} of the updates are the database floor's` : ''}`,
    ]);
  }
  const wide = scanIndexes.filter((i) => i.scans > 0 && i.entriesRead / i.scans > 100);
  if (wide.length > 0)
    rows.push([
      `index uses reading > 100 entries each (whole run${floor ? ', database floor included' : ''})`,
      'uses / entries read',
      wide.map((i) => `${i.index} ${fmtInt(i.scans)} / ${fmtInt(i.entriesRead)}`).join(', '),
    ]);
  rows.push([
    'PostgreSQL on-CPU samples during the sync, by statement',
    'share',
    syncActivity.cpuByStatement
      .slice(0, 6)
      .map((x) => `${x.share}% ${x.statement.split(' ').slice(0, 3).join(' ')}`)
      .join('; '),
  ]);
  const slowProbe = probeStale.samples.filter((x) => x.rowsRead > 5 * CFG.batch || x.executionMs > 5);
  for (const p of slowProbe) {
    const f = probeFresh.samples.find((x) => x.statement === p.statement);
    rows.push([
      `plan of \`${p.statement}\` for one upload, after the sync`,
      `${fmtMs(p.executionMs)} ms`,
      `${p.access.join(' + ')}; ${fmtInt(p.rowsRemoved)} rows filtered out; after a fresh ANALYZE: ${f ? `${fmtMs(f.executionMs)} ms, ${f.access.join(' + ')}` : '?'}`,
    ]);
  }
  rows.push([
    'WAL written during the sync',
    fmtBytes(writesAfter.walBytes - writesBefore.walBytes),
    `${fmtInt((writesAfter.walBytes - writesBefore.walBytes) / plan.totalScans)} B per scan; ${fmtInt(tx)} write transactions`,
  ]);
  const usPerScan = (c: CpuUsage, group: string): number =>
    round(((c.groups[group] ?? 0) * c.seconds * 1e6) / plan.totalScans, 1);
  // The CPU that the throughput target leaves per scan on this machine: cores × time ÷ scans.
  const targetScans = (TARGETS.syncScansPerS * TARGETS.syncWallMs) / 1000;
  const cpuBudgetUs = round((machine.cores * TARGETS.syncWallMs * 1000) / targetScans, 1);
  if (floor) {
    // The floor resets the tickets and vacuums before it runs, so its updates should be as HOT as the sync's; the note flags it if not.
    const hotPct = (u: { updates: number; hot: number }): number =>
      u.updates ? Math.round((u.hot / u.updates) * 100) : 0;
    const fu = floor.ticketUpdates;
    const rest = tk && fu ? { updates: tk.updates - fu.updates, hot: tk.hotUpdates - fu.hot } : null;
    const hotNote = fu
      ? `; tickets updates ${fmtInt(fu.updates)}, ${hotPct(fu)}% HOT${
          rest
            ? ` (the sync's and online scans': ${hotPct(rest)}%${
                hotPct(rest) - hotPct(fu) >= 5
                  ? '; fewer HOT updates than the sync: the floor is pessimistic by the index entries they add'
                  : ''
              })`
            : ''
        }`
      : '';
    rows.push([
      `database floor (the sync's two essential statements, precomputed, ${floor.connections} connections, no server)`,
      fmtS(floor.wallMs),
      `${fmtInt(floor.scansPerS)} scans/s; PostgreSQL ${floor.cpuUsPerScan.postgres} µs of CPU per scan (${floor.cpu.groups.postgres?.toFixed(2)} cores), load generator ${floor.cpuUsPerScan.loadgen} µs; ` +
        `${fmtInt(floor.scans)} scans in ${floor.transactions} transactions of ${floor.batch} (insertOfflineScans + compareAndSetTicketStates), per transaction p50 ${fmtMs(floor.transactionLatencyMs.p50)} / p99 ${fmtMs(floor.transactionLatencyMs.p99)} ms; ` +
        `${floor.complete ? 'every scan inserted and every ticket written' : `INCOMPLETE: ${fmtInt(floor.inserted)} inserted, ${fmtInt(floor.ticketsWritten)} tickets written`}; WAL ${fmtInt(floor.walBytesPerScan)} B per scan` +
        `${hotNote}; ` +
        `machine ${floor.cpu.machineBusy.toFixed(2)} of ${floor.cpu.cores} cores busy, other ${floor.cpu.other.toFixed(2)}${floor.cpu.other > 0.15 ? ' (FOREIGN LOAD)' : ''}`,
    ]);
    rows.push([
      'sync ÷ database floor',
      `${(scansPerS / floor.scansPerS).toFixed(2)}×`,
      `${fmtInt(scansPerS)} vs ${fmtInt(floor.scansPerS)} scans/s (throughput)`,
    ]);
  }
  rows.push([
    `CPU budget at the ${TARGETS.syncWallMs / 1000} s target`,
    `${cpuBudgetUs} µs per scan`,
    `${machine.cores} cores × ${TARGETS.syncWallMs / 1000} s ÷ ${fmtInt(targetScans)} = ${cpuBudgetUs} µs per scan, everything included; ` +
      `${floor ? `the floor's PostgreSQL alone uses ${floor.cpuUsPerScan.postgres} µs` : 'database floor skipped'}; the sync used ${usPerScan(syncCpu, 'server')} µs (server) + ${usPerScan(syncCpu, 'postgres')} µs (PostgreSQL) + ${usPerScan(syncCpu, 'loadgen')} µs (load generator)`,
  ]);
  if (floor && serverWork) {
    const minimum = round(
      floor.cpuUsPerScan.postgres! + floor.cpuUsPerScan.loadgen! + serverWork.totalUs + usPerScan(syncCpu, 'loadgen'),
      1,
    );
    rows.push([
      'least CPU any sync needs here',
      `${minimum} µs per scan`,
      `the floor's PostgreSQL ${floor.cpuUsPerScan.postgres} µs + its client (driver, COPY text) ${floor.cpuUsPerScan.loadgen} µs + the server's irreducible work ${serverWork.totalUs} µs ` +
        `(hashes, chain, code digest, JSON) + the load generator ${usPerScan(syncCpu, 'loadgen')} µs, before HTTP, validation, reconciliation and answers: ` +
        `${minimum > cpuBudgetUs ? `${round((minimum / cpuBudgetUs - 1) * 100, 0)}% over` : 'within'} the ${cpuBudgetUs} µs budget`,
    ]);
  }
  if (baseline) {
    rows.push([
      `seeds' per-row loop (pg, ${baseline.connections} connections, no HTTP)`,
      `${fmtInt(baseline.scansPerS)} scans/s`,
      `${fmtInt(baseline.scans)} scans in ${baseline.durationS.toFixed(2)} s${baseline.stoppedEarly ? ' (stopped at the deadline)' : ''}; ${fmtInt(baseline.statementsPerS)} statements/s; per upload p50 ${fmtMs(baseline.uploadLatencyMs.p50)} ms; ${baseline.deadlocks} deadlock victims resent; CPU postgres ${baseline.cpu.groups.postgres?.toFixed(2)}, loadgen ${baseline.cpu.groups.loadgen?.toFixed(2)}`,
    ]);
    rows.push([
      'sync ÷ per-row loop',
      `${ratio!.toFixed(1)}×`,
      `${fmtInt(scansPerS)} vs ${fmtInt(baseline.scansPerS)} scans/s`,
    ]);
  }

  if (reconcile) {
    const rus = (group: string): number =>
      round(((reconcile.cpu.groups[group] ?? 0) * reconcile.cpu.seconds * 1e6) / reconcile.scans, 1);
    rows.push([
      `**reconcile (seed 000): ${fmtInt(reconcile.scans)} scans, ${CFG.reconcile.devices} devices in parallel, ${reconcile.uploads} uploads of ${CFG.reconcile.batch}**`,
      `**${fmtS(reconcile.wallMs)}**`,
      `**${fmtInt(reconcile.scansPerS)} scans/s**; per upload p50 ${fmtMs(reconcile.uploadLatencyMs.p50)} / p99 ${fmtMs(reconcile.uploadLatencyMs.p99)} ms; ${reconcile.verified ? 'verified' : 'MISMATCH'} ` +
        `(${fmtInt(reconcile.database.admitted)} admitted, ${reconcile.database.openConflicts} open conflicts); CPU per scan server ${rus('server')} / PostgreSQL ${rus('postgres')} / load generator ${rus('loadgen')} µs; ` +
        `${reconcile.cpu.machineBusy.toFixed(2)} of ${reconcile.cpu.cores} cores busy, other ${reconcile.cpu.other.toFixed(2)}${reconcile.cpu.other > 0.15 ? ' (FOREIGN LOAD)' : ''}`,
    ]);
    if (reconcile.loop) {
      rows.push([
        `seed 000's per-row reconcile loop (pg, ${reconcile.loop.connections} connections, no HTTP)`,
        `${fmtInt(reconcile.loop.scansPerS)} scans/s`,
        `${fmtInt(reconcile.loop.scans)} scans in ${reconcile.loop.durationS.toFixed(2)} s${reconcile.loop.stoppedEarly ? ' (stopped at the deadline)' : ''}; ${reconcile.loop.deadlocks} deadlock victims resent; CPU postgres ${reconcile.loop.cpu.groups.postgres?.toFixed(2)}, loadgen ${reconcile.loop.cpu.groups.loadgen?.toFixed(2)}`,
      ]);
      rows.push([
        "reconcile ÷ seed 000's loop",
        `${reconcile.ratio!.toFixed(1)}×`,
        `${fmtInt(reconcile.scansPerS)} vs ${fmtInt(reconcile.loop.scansPerS)} scans/s`,
      ]);
    }
  }

  const finishedAt = new Date();
  const header = [
    `## Offline sync and manifest benchmark${QUICK ? ' (--quick)' : ''}${PROFILE ? ' (server CPU-profiled: figures understated)' : ''}${PRIME_STATS ? ' (--prime-stats diagnostic)' : ''}${overlapOverride !== null ? ` (--overlap=${overlapOverride} diagnostic)` : ''}`,
    '',
    `${startedAt.toISOString()} · ${machine.cores} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB · Node ${machine.node} · PostgreSQL ${pgVersion} · ${machine.kernel}`,
    `Machine busy before start: ${busyBefore.toFixed(2)} cores. Load generator, server and PostgreSQL share these cores (loopback HTTP).`,
    `PostgreSQL settings: ${Object.entries(pgSettings)
      .filter(([k]) => ['synchronous_commit', 'fsync', 'autovacuum', 'shared_buffers'].includes(k))
      .map(([k, v]) => `${k}=${v}`)
      .join(
        ', ',
      )}; ANALYZE run once after loading (before the manifest and the sync)${PRIME_STATS ? ', on statistics primed with one synthetic scan per ticket' : ', when the event had no scans yet'}.`,
    `Code: fingerprint ${code.sha256} (${code.files} files of packages/server and packages/core); migrations ${migrations.join(', ') || '?'}. Uploads ${GZIP_UPLOADS ? 'gzipped' : 'plain JSON'}, devices with Ed25519 keys (chain + one signature per upload).`,
    '',
  ].join('\n');
  const table = markdownTable(['measure', 'figure', 'detail'], rows);
  const targetTable = markdownTable(
    ['target', 'measured', 'result'],
    targets.map((x) => [x.target, x.value, pass(x.ok)]),
  );
  console.log(`\n${header}${table}\n\n${targetTable}\n`);

  const file = await saveJson(`offline-${timestamp(startedAt)}.json`, {
    benchmark: 'offline-sync',
    mode: QUICK ? 'quick' : 'full',
    instances,
    profiled: PROFILE,
    primedStatistics: PRIME_STATS,
    command: `node --import tsx bench/offline-sync.ts ${process.argv.slice(2).join(' ')}`.trim(),
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    runtimeS: round((finishedAt.getTime() - startedAt.getTime()) / 1000, 1),
    machine,
    machineBusyBeforeStart: busyBefore,
    code,
    migrations,
    postgres: { version: pgVersion, settings: pgSettings, analyzeMs: Math.round(analyzeMs) },
    config: CFG,
    targetsConfig: TARGETS,
    gzipUploads: GZIP_UPLOADS,
    pgbench,
    ceilingTps: ceilingRun?.tps ?? null,
    setup: {
      bulkCreate: {
        tickets: tickets.length,
        totalS: round(bulk.totalMs / 1000, 3),
        perCallS: bulk.callMs.map((m) => round(m / 1000, 3)),
      },
      devicesMs: Math.round(devicesMs),
      warmup: warm,
    },
    manifest: {
      fullGzip: fullGz,
      fullRaw,
      cachedGzip: cachedGz,
      changes: { count: changes, ms: Math.round(changesMs), outcomes },
      delta: { ...delta, exact: deltaExact },
      profile: manifestProfile,
    },
    uploads: {
      count: uploadCount,
      batch: CFG.batch,
      buildMs: Math.round(built.buildMs),
      chainMs: Math.round(built.chainMs),
      jsonMs: Math.round(built.jsonMs),
      gzipMs: Math.round(built.gzipMs),
      rawBytes: built.rawBytes,
      wireBytes: built.wireBytes,
    },
    sync: {
      wallMs: Math.round(sync.wallMs),
      scans: plan.totalScans,
      scansPerS: Math.round(scansPerS),
      uploadLatencyMs: batchMs,
      uploadLatencyByBatchMs: Object.fromEntries([...perBatchNo].map(([b, r]) => [b, r.summary()])),
      completionMs: sync.replies.map((r) => Math.round(r.doneAtMs)).sort((a, b) => a - b),
      cpu: syncCpu,
      activity: syncActivity,
      walBytes: writesAfter.walBytes - writesBefore.walBytes,
      writeTransactions: tx,
      replies: replyCheck,
      database: dbCheck,
      expected,
      verified,
      profile: syncProfile,
      planProbe: {
        input: { ...probeInput, ticketIds: probeInput.ticketIds.length },
        staleStatistics: probeStale.samples,
        afterAnalyze: probeFresh.samples,
      },
    },
    tables,
    indexes: scanIndexes,
    floor,
    floorRatio: floor ? round(scansPerS / floor.scansPerS, 3) : null,
    cpuBudgetUsPerScan: cpuBudgetUs,
    serverWork,
    baseline,
    ratio,
    reconcile,
    targets,
  });
  log(`results saved to ${file} (total ${control.elapsedS().toFixed(0)} s)`);
}

await control.run(main);
