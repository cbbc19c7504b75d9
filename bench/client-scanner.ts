/**
 * Client benchmark (issue: the scanner engine in the browser): the offline engine of packages/client, bundled
 * with esbuild, in real headless Chromium with IndexedDB (DexieStore) as its store, against a real Entrada server.
 *
 *   node --import tsx bench/client-scanner.ts [--quick] [--tickets N] [--postgres] [--profile] [--wait-quiet]
 *   npm run bench:client -- --quick
 *
 * 1. An Entrada server in a child process: the embedded PGlite default (a temporary DATA_DIR), or with --postgres
 *    a scratch database on the local PostgreSQL (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres).
 *    Through the HTTP API: an event (2 zones, 4 gates, 2 ticket types), 100,000 tickets with Entrada-signed codes, and
 *    two scanner devices that register an Ed25519 public key (so every upload is chained and its head signed, as
 *    the app's will be): one played by the browser, one by Node for the server-side floor. A small second event
 *    gets a manifest and a few uploads first, so the server's code is compiled before anything is timed.
 * 2. Server-side ceiling, from Node straight to the server: the full manifest (gzip), time to first byte and total.
 * 3. A page (bench/lib/browser/page-entry.ts with @entrada/client and @entrada/core) served from a small HTTP
 *    server on 127.0.0.1 whose /api/* is proxied to Entrada (the API has no CORS; IndexedDB needs a real origin),
 *    loaded by /usr/bin/chromium (headless, persistent profile: IndexedDB on disk, as on a device).
 * 4. Phases, in the page (times from the page's own clock; the proxy logs the server's share of each request):
 *    A. Manifest download → ready to scan, 3 runs, each in a new page on a new database: SyncLoop.syncNow()
 *       downloads the manifest and the feed, stores them (DexieStore.saveManifest), reloads them and builds the
 *       ManifestIndex (what Scanner.reloadManifest does), then one scan is decided. Target ≤ 5 s.
 *    B. Engine start with the manifest stored, 5 runs: a new page (same profile and origin) whose bundle, from its
 *       first statement, opens DexieStore, loads the manifest, builds the index and decides a first scan. Then 2
 *       runs after restarting the browser on the same profile (cold). Target ≤ 2 s (the engine part; the real PWA
 *       start, with its UI and service worker, is measured elsewhere).
 *    D. Durable scans: 2,000 Scanner.scanOffline calls one after the other on distinct random tickets (decision
 *       with signature check, then recordScan's IndexedDB transaction committed). Target p99 ≤ 20 ms.
 *    C. Offline decisions: 2,000 codes (half of them scanned in D, so the own-scans overlay finds them; half
 *       fresh): lookup (parse + Ed25519 verify + map) + own scans read from IndexedDB + decideLocally, without
 *       recording. Target p99 ≤ 10 ms.
 *    E. Sync: SyncLoop.syncNow() uploads D's 2,000 pending scans (4 signed uploads of 500) until the outbox is
 *       drained and acknowledged; checked against the server's sync status. Target ≤ 3 s. Floor: the same number
 *       of scans uploaded by Node straight to the server for the second device.
 *    F. A diagnostic: durable scans with Chromium's strict IndexedDB durability (flush before commit).
 *    G. Ceiling for the manifest's storage: the same ticket rows written (one transaction) and read back (getAll and
 *       a Map, as loadManifest builds) with IndexedDB directly, one record per ticket as DexieStore keeps them, and
 *       in records of 1,000 tickets: what IndexedDB itself costs, and what a chunked layout would.
 * 5. A markdown table on stdout, JSON in bench/results/client-<timestamp>.json.
 *
 * --quick: 20,000 tickets, 1 download, 2+1 starts, 300 scans/decisions: a smoke test (size targets not judged).
 * --tickets N: the event's size (default 100,000; targets on the manifest and the start are judged at ≥ 100,000).
 * --postgres: the server on PostgreSQL instead of PGlite. --wait-quiet: wait (up to 3 min) for an idle machine.
 * --profile: V8 CPU profiles of the page during phases A–E (bench/results/profile-client-<timestamp>/, open in
 *   Chrome DevTools; summarised in the log); profiled figures are slower, do not compare them.
 * Environment: CHROMIUM_PATH (default /usr/bin/chromium), BENCH_PG_URL, BENCH_SERVER_NODE_ARGS.
 * Everything it creates (server, database or data folder, browser profile) is removed at the end.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { toBase64Url } from '@entrada/core';
import { Api, createBenchEvent, type BenchEvent } from './lib/api.ts';
import {
  callPage,
  chromiumVersion,
  CHROMIUM_ARGS,
  CHROMIUM_PATH,
  bundlePage,
  hostPage,
  launchChromium,
  startPageProfile,
  type ProxyEntry,
} from './lib/browser/chromium.ts';
import type {
  AppStartParams,
  AppStartResult,
  DecisionsResult,
  DeviceConfig,
  DownloadResult,
  DurableScansResult,
  IdbCeilingResult,
  SyncResult,
} from './lib/browser/protocol.ts';
import { machineBusyNow, measureCpu, pidGroup, type CpuUsage, type ProcessGroup } from './lib/cpu.ts';
import { summarizeCpuProfile, type ProfileSummary } from './lib/cpuprofile.ts';
import { fmtMs, percentileOfSorted } from './lib/latency.ts';
import { codeFingerprint, machineInfo } from './lib/machine.ts';
import {
  buildUploads,
  bulkCreateTicketsWithIds,
  planOfflineScans,
  prng,
  registerKeyedDevices,
  type KeyedDevice,
  type OfflinePlan,
} from './lib/offline.ts';
import { postgresGroupFor } from './lib/pg-processes.ts';
import { createScratchDatabase, serverVersion } from './lib/postgres.ts';
import { fmtInt, markdownTable, pass, RESULTS_DIR, saveJson, timestamp } from './lib/report.ts';
import { createRunControl, round, waitQuiet } from './lib/run-control.ts';
import { spawnServer, type ServerProcess } from './lib/spawn-server.ts';

// ---- options ---------------------------------------------------------------------------------------------------
const FLAGS = ['--quick', '--postgres', '--profile', '--wait-quiet'];
const USAGE = `usage: node --import tsx bench/client-scanner.ts ${FLAGS.map((f) => `[${f}]`).join(' ')} [--tickets N]`;
const argv = process.argv.slice(2);
const flags = new Set<string>();
let ticketsOverride: number | null = null;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  const m = /^--tickets(?:=(\d+))?$/.exec(a);
  if (m) {
    const v = m[1] ?? argv[++i];
    if (!v || !/^\d+$/.test(v) || Number(v) < 2_000 || Number(v) > 1_000_000) {
      console.error(`--tickets takes a number from 2,000 to 1,000,000\n${USAGE}`);
      process.exit(2);
    }
    ticketsOverride = Number(v);
  } else if (FLAGS.includes(a)) {
    flags.add(a);
  } else {
    console.error(`unknown option ${a}\n${USAGE}`);
    process.exit(2);
  }
}
const QUICK = flags.has('--quick');
const POSTGRES = flags.has('--postgres');
const PROFILE = flags.has('--profile');
const SERVER_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

const CFG = QUICK
  ? {
      tickets: 20_000,
      perCall: 10_000,
      gates: 4,
      downloads: 1,
      warmStarts: 2,
      coldStarts: 1,
      durable: 300,
      decisions: 300,
      strict: 100,
      manifestCeilingRuns: 2,
      watchdogMs: 6 * 60_000,
    }
  : {
      tickets: 100_000,
      perCall: 10_000,
      gates: 4,
      downloads: 3,
      warmStarts: 5,
      coldStarts: 2,
      durable: 2_000,
      decisions: 2_000,
      strict: 500,
      manifestCeilingRuns: 3,
      watchdogMs: 15 * 60_000,
    };
if (ticketsOverride !== null) CFG.tickets = ticketsOverride;
CFG.durable = Math.min(CFG.durable, Math.floor(CFG.tickets / 5));
CFG.decisions = Math.min(CFG.decisions, Math.floor(CFG.tickets / 5));

const TARGETS = {
  manifestReadyMs: 5_000,
  appStartMs: 2_000,
  decisionP99Ms: 10,
  durableP99Ms: 20,
  syncMs: 3_000,
  syncScans: 2_000,
  fullSizeTickets: 100_000,
};

const control = createRunControl({ watchdogMs: CFG.watchdogMs });
const { log, cleanups } = control;

// ---- small helpers ---------------------------------------------------------------------------------------------
interface Stats {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

function stats(xs: readonly number[]): Stats {
  if (xs.length === 0) return { count: 0, min: 0, mean: 0, p50: 0, p95: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(xs).sort();
  const r = (x: number): number => round(x, 3);
  return {
    count: xs.length,
    min: r(sorted[0]!),
    mean: r(xs.reduce((a, b) => a + b, 0) / xs.length),
    p50: r(percentileOfSorted(sorted, 50)),
    p95: r(percentileOfSorted(sorted, 95)),
    p99: r(percentileOfSorted(sorted, 99)),
    max: r(sorted[sorted.length - 1]!),
  };
}
const median = (xs: readonly number[]): number => stats(xs).p50;
const fmtStats = (s: Stats): string =>
  `p50 ${fmtMs(s.p50)} / p95 ${fmtMs(s.p95)} / p99 ${fmtMs(s.p99)} / max ${fmtMs(s.max)} ms`;
const fmtS = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const fmtBytes = (b: number | null): string =>
  b === null ? '?' : b >= 1_000_000 ? `${(b / 1_000_000).toFixed(2)} MB` : `${(b / 1000).toFixed(1)} kB`;
const roundAll = (xs: number[]): number[] => xs.map((x) => round(x, 3));

function describeCpu(c: CpuUsage): string {
  const g = Object.entries(c.groups)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
  return `${c.machineBusy.toFixed(2)} of ${c.cores} cores busy: ${g}, other ${c.other.toFixed(2)}${c.steal > 0.005 ? `, steal ${c.steal.toFixed(2)}` : ''}`;
}

/**
 * CPU over several measured stretches (seconds-weighted). A and B close their page after each run, and a closed
 * page's renderer process exits: measured across the close, its CPU would show up as "other". So those phases are
 * measured per run, page open to just before it closes, and combined here.
 */
function combineCpu(parts: CpuUsage[]): CpuUsage {
  const seconds = parts.reduce((a, p) => a + p.seconds, 0);
  const w = (f: (p: CpuUsage) => number): number =>
    round(parts.reduce((a, p) => a + f(p) * p.seconds, 0) / Math.max(1e-9, seconds), 2);
  const groups: Record<string, number> = {};
  for (const k of Object.keys(parts[0]?.groups ?? {})) groups[k] = w((p) => p.groups[k] ?? 0);
  return {
    seconds: round(seconds, 2),
    cores: parts[0]?.cores ?? 0,
    machineBusy: w((p) => p.machineBusy),
    steal: w((p) => p.steal),
    groups,
    other: w((p) => p.other),
  };
}

/** The server's share of a phase's requests, from the proxy's log. */
function proxySummary(entries: ProxyEntry[]): {
  requests: number;
  byPath: Record<string, { n: number; upstreamFirstByteMs: number[]; totalMs: number[]; responseBytes: number[] }>;
} {
  const byPath: Record<
    string,
    { n: number; upstreamFirstByteMs: number[]; totalMs: number[]; responseBytes: number[] }
  > = {};
  for (const e of entries) {
    const key = `${e.method} ${e.path.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, ':id')}`;
    const b = (byPath[key] ??= { n: 0, upstreamFirstByteMs: [], totalMs: [], responseBytes: [] });
    b.n++;
    b.upstreamFirstByteMs.push(round(e.upstreamFirstByteMs, 1));
    b.totalMs.push(round(e.totalMs, 1));
    b.responseBytes.push(e.responseBytes);
  }
  return { requests: entries.length, byPath };
}

// ---- server set-up ---------------------------------------------------------------------------------------------
/** A second, small event: a manifest and a few chained uploads, so the server's code paths are compiled before timing. */
async function warmUpServer(api: Api, pool: Pool, server: ServerProcess): Promise<number> {
  const t = performance.now();
  const event = await createBenchEvent(api, server.adminToken, 2);
  const { tickets } = await bulkCreateTicketsWithIds(api, server.adminToken, event, 2_000, 2_000);
  const devices = await registerKeyedDevices(api, server.adminToken, event, 2, 'bench-client-warmup');
  const plan = planOfflineScans({
    tickets: 2_000,
    devices: 2,
    perDevice: 500,
    overlap: 0,
    windowStart: Date.now() - 30 * 60_000,
    windowMs: 20 * 60_000,
    seed: 11,
  });
  await getManifest(pool, devices[0]!, event.eventId);
  const built = buildUploads({
    eventId: event.eventId,
    devices,
    plan,
    codes: tickets.map((x) => x.code),
    batchSize: 250,
    gzip: false,
  });
  for (let d = 0; d < devices.length; d++)
    await uploadSequentially(
      pool,
      devices[d]!,
      built.perDevice[d]!.map((u) => u.body),
    );
  await getManifest(pool, devices[1]!, event.eventId);
  return performance.now() - t;
}

/** The full manifest straight from the server (gzip, as a browser asks for it): time to first byte and total. */
async function getManifest(
  pool: Pool,
  device: KeyedDevice,
  eventId: string,
): Promise<{ ttfbMs: number; totalMs: number; wireBytes: number }> {
  const start = performance.now();
  const res = await pool.request({
    method: 'GET',
    path: `/api/v1/offline/manifest/${eventId}?device_id=${encodeURIComponent(device.deviceId)}`,
    headers: { authorization: `Bearer ${device.token}`, 'accept-encoding': 'gzip' },
  });
  const ttfbMs = performance.now() - start;
  const buf = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200) throw new Error(`manifest: HTTP ${res.statusCode} ${buf.toString('utf8').slice(0, 300)}`);
  return { ttfbMs, totalMs: performance.now() - start, wireBytes: buf.length };
}

/** One device's uploads, one after the other, as its sync loop sends them; throws on anything but 200. */
async function uploadSequentially(
  pool: Pool,
  device: KeyedDevice,
  bodies: Buffer[],
): Promise<{ wallMs: number; perUploadMs: number[]; ackedThrough: number }> {
  const perUploadMs: number[] = [];
  let ackedThrough = 0;
  const start = performance.now();
  for (const body of bodies) {
    const s = performance.now();
    const res = await pool.request({
      method: 'POST',
      path: '/api/v1/offline/sync',
      body,
      headers: { authorization: `Bearer ${device.token}`, 'content-type': 'application/json' },
    });
    const text = await res.body.text();
    perUploadMs.push(performance.now() - s);
    if (res.statusCode !== 200) throw new Error(`upload: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
    ackedThrough = (JSON.parse(text) as { acked_through: number }).acked_through;
  }
  return { wallMs: performance.now() - start, perUploadMs, ackedThrough };
}

/** Deterministic choice of tickets for each phase, all distinct. */
function chooseTickets(n: number): {
  durable: number[];
  decisions: number[];
  fresh: number[];
  firstCodes: number[];
  floor: number[];
} {
  const rnd = prng(2026);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  let at = 0;
  const take = (k: number): number[] => {
    if (at + k > n) throw new Error(`not enough tickets (${n}) for the phases`);
    const out = order.slice(at, at + k);
    at += k;
    return out;
  };
  const durable = take(CFG.durable);
  const half = Math.floor(CFG.decisions / 2);
  const fresh = take(CFG.decisions - half);
  const decisions = [...durable.slice(0, half), ...fresh];
  for (let i = decisions.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [decisions[i], decisions[j]] = [decisions[j]!, decisions[i]!];
  }
  const firstCodes = take(CFG.downloads + CFG.warmStarts + CFG.coldStarts);
  const floor = take(CFG.durable);
  return { durable, decisions, fresh, firstCodes, floor };
}

// ---- the run ---------------------------------------------------------------------------------------------------
async function main(): Promise<void> {
  const startedAt = new Date();
  const machine = machineInfo();
  const root = fileURLToPath(new URL('../', import.meta.url));
  const code = codeFingerprint(root, [
    'packages/client/src',
    'packages/core/src',
    'packages/server/src',
    'packages/server/migrations',
  ]);
  const chromiumVer = chromiumVersion();
  const busyBefore = flags.has('--wait-quiet')
    ? await waitQuiet({ maxMs: 180_000, sampleMs: 500, consecutive: 2 })
    : await machineBusyNow(1_000);
  control.armWatchdog();
  log(
    `client benchmark${QUICK ? ' (--quick)' : ''}: ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, ${chromiumVer}; server on ${POSTGRES ? 'PostgreSQL' : 'PGlite'}`,
  );
  if (busyBefore > 0.25)
    log(
      `warning: the machine was already ${busyBefore.toFixed(2)} cores busy before the benchmark started; figures will suffer`,
    );

  let profileDir: string | null = null;
  if (PROFILE) {
    profileDir = path.join(RESULTS_DIR, `profile-client-${timestamp(startedAt)}`);
    await mkdir(profileDir, { recursive: true });
    log(`--profile: page CPU profiles go to ${profileDir}`);
  }

  // 1. Server, event, tickets, devices
  let server: ServerProcess;
  let dbName: string | null = null;
  let pgVersion: string | null = null;
  if (POSTGRES) {
    pgVersion = await serverVersion();
    const db = await createScratchDatabase('entrada_bench_client');
    cleanups.push(() => db.drop());
    dbName = db.name;
    server = await spawnServer({ databaseUrl: db.url, nodeArgs: SERVER_NODE_ARGS });
  } else {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'entrada-bench-client-pglite-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    server = await spawnServer({ dataDir, nodeArgs: SERVER_NODE_ARGS });
  }
  cleanups.push(() => server.stop());
  log(
    `Entrada on ${POSTGRES ? `PostgreSQL ${pgVersion} (database ${dbName})` : 'PGlite'} at ${server.url}, pid ${server.pid}`,
  );
  const api = new Api(server.url, { connections: 4 });
  cleanups.push(() => api.close().catch(() => undefined));
  const pool = new Pool(server.url, {
    connections: 4,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: 120_000,
    bodyTimeout: 120_000,
  });
  cleanups.push(() => pool.destroy().catch(() => undefined));

  const event: BenchEvent = await createBenchEvent(api, server.adminToken, CFG.gates);
  log(`bulk-creating ${fmtInt(CFG.tickets)} tickets (signed codes)`);
  const bulk = await bulkCreateTicketsWithIds(api, server.adminToken, event, CFG.tickets, CFG.perCall);
  const codes = bulk.tickets.map((x) => x.code);
  log(`bulk create ${fmtS(bulk.totalMs)}`);
  const [browserDevice, floorDevice] = await registerKeyedDevices(api, server.adminToken, event, 2, 'bench-client');
  const cfg: DeviceConfig = {
    eventId: event.eventId,
    deviceId: browserDevice!.deviceId,
    token: browserDevice!.token,
    secretKey: toBase64Url(browserDevice!.secretKey),
    publicKey: toBase64Url(browserDevice!.publicKey),
    gateId: browserDevice!.gateId,
  };
  const warmMs = await warmUpServer(api, pool, server);
  log(`server warmed up on a small event (${Math.round(warmMs)} ms)`);
  const pick = chooseTickets(CFG.tickets);

  // 2. Server-side ceiling for the manifest, straight from Node
  const ceilingRuns: Array<{ ttfbMs: number; totalMs: number; wireBytes: number }> = [];
  for (let i = 0; i < CFG.manifestCeilingRuns; i++)
    ceilingRuns.push(await getManifest(pool, floorDevice!, event.eventId));
  const ceiling = {
    runs: ceilingRuns.map((r) => ({
      ttfbMs: round(r.ttfbMs, 1),
      totalMs: round(r.totalMs, 1),
      wireBytes: r.wireBytes,
    })),
    ttfbP50Ms: round(median(ceilingRuns.map((r) => r.ttfbMs)), 1),
    totalP50Ms: round(median(ceilingRuns.map((r) => r.totalMs)), 1),
    wireBytes: ceilingRuns[0]!.wireBytes,
  };
  log(
    `manifest straight from the server (Node, gzip): first byte p50 ${fmtMs(ceiling.ttfbP50Ms)} ms, total ${fmtMs(ceiling.totalP50Ms)} ms, ${fmtBytes(ceiling.wireBytes)}`,
  );

  // 3. The page and the browser
  const bundle = await bundlePage(fileURLToPath(new URL('./lib/browser/page-entry.ts', import.meta.url)));
  const host = await hostPage({ bundle: bundle.code, apiUpstream: server.url });
  cleanups.push(() => host.close());
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  log(
    `page bundle ${fmtBytes(bundle.bytes)} (esbuild ${Math.round(bundle.ms)} ms), served at ${host.origin} with /api proxied to the server; Chromium profile ${browser.profileDir}`,
  );
  const groups: Record<string, ProcessGroup> = {
    chromium: browser.processes,
    server: pidGroup(server.pid),
    bench: pidGroup(process.pid),
  };
  if (dbName) groups.postgres = postgresGroupFor(dbName);
  const cpu: Record<string, CpuUsage> = {};
  const profiles: Record<string, ProfileSummary> = {};
  const settle = (): Promise<number> => waitQuiet({ maxMs: QUICK ? 5_000 : 15_000, sampleMs: 500, consecutive: 1 });
  const summarize = async (name: string, file: string): Promise<void> => {
    const s = await summarizeCpuProfile(file, 20, [
      'syncNow',
      'saveManifest',
      'loadManifest',
      'bulkPut',
      'toArray',
      'from',
      'lookup',
      'verify',
      'decideLocally',
      'scanOffline',
      'recordScan',
      'appendScan',
      'scansOfTicket',
      'uploadBody',
      'acknowledge',
      'parse',
      'stringify',
    ]);
    profiles[name] = s;
    log(
      `page CPU profile of ${name}: ${file} (busy ${s.busyMs} of ${s.totalMs} ms); self time by origin: ${s.byOrigin
        .slice(0, 8)
        .map((o) => `${o.origin} ${o.pct}%`)
        .join(', ')}`,
    );
    for (const f of s.topFunctions.slice(0, 10)) log(`  fn ${f.pct.toFixed(1).padStart(5)}%  ${f.fn}  [${f.origin}]`);
    for (const f of s.inclusive) log(`  inclusive ${f.pct.toFixed(1).padStart(5)}%  ${f.fn}`);
  };
  host.takeProxyLog();

  // A. Manifest download → ready to scan
  const appDb = (i: number): string => `entrada-bench-${i}`;
  const downloads: DownloadResult[] = [];
  const downloadProxy: ReturnType<typeof proxySummary>[] = [];
  await settle();
  const downloadCpu: CpuUsage[] = [];
  for (let i = 0; i < CFG.downloads; i++) {
    const m = measureCpu(groups);
    const page = await browser.openPage(`${host.origin}/`);
    const prof = PROFILE && i === CFG.downloads - 1 ? await startPageProfile(page) : null;
    host.takeProxyLog();
    const r = await callPage<DownloadResult>(page, 'download', cfg, appDb(i), codes[pick.firstCodes[i]!]!);
    downloadProxy.push(proxySummary(host.takeProxyLog()));
    if (prof) {
      const file = path.join(profileDir!, 'A-download.cpuprofile');
      await prof.stop(file);
      await summarize('A-download', file);
    }
    downloadCpu.push(m.stop());
    await page.close();
    downloads.push(r);
    const s = r.steps;
    log(
      `A. download ${i + 1}/${CFG.downloads}: ${fmtInt(r.tickets)} tickets ready and a first scan decided (${r.firstDecision}) in ${fmtMs(r.totalMs)} ms: ` +
        `request ${fmtMs(s.beforeRequestMs)}, first byte ${fmtMs(s.firstByteMs)}, body ${fmtMs(s.bodyMs)} (${fmtBytes(r.manifestWireBytes)}), parse ${fmtMs(s.parseMs)}, ` +
        `save ${fmtMs(s.saveMs)}, feed ${fmtMs(s.feedMs)}, load ${fmtMs(s.loadMs)}, index ${fmtMs(s.indexMs)}, decide ${fmtMs(s.decideMs)}, other ${fmtMs(s.otherMs)}`,
    );
    if (r.tickets !== CFG.tickets) throw new Error(`the page stored ${r.tickets} tickets, expected ${CFG.tickets}`);
  }
  cpu.download = combineCpu(downloadCpu);
  const mainDb = appDb(CFG.downloads - 1);
  {
    const page = await browser.openPage(`${host.origin}/`);
    for (let i = 0; i < CFG.downloads - 1; i++) await callPage(page, 'deleteDatabase', appDb(i));
    await page.close();
  }

  // B. Engine start with the manifest stored: new pages, then browser restarts (cold)
  const starts: Array<AppStartResult & { cold: boolean }> = [];
  const startUrl = (k: number): string =>
    `${host.origin}/?start=${encodeURIComponent(JSON.stringify({ cfg, db: mainDb, code: codes[pick.firstCodes[CFG.downloads + k]!]! } satisfies AppStartParams))}`;
  await settle();
  const startCpu: CpuUsage[] = [];
  for (let k = 0; k < CFG.warmStarts + CFG.coldStarts; k++) {
    const cold = k >= CFG.warmStarts;
    if (cold) await browser.relaunch();
    const m = measureCpu(groups);
    let prof: Awaited<ReturnType<typeof startPageProfile>> | null = null;
    const page =
      PROFILE && k === 0
        ? // Profiled: the profiler attaches to a page of our origin first, so the start runs in the same renderer.
          await browser.openPage(`${host.origin}/`).then(async (p) => {
            prof = await startPageProfile(p);
            await p.goto(startUrl(k), { waitUntil: 'load' });
            return p;
          })
        : await browser.openPage(startUrl(k));
    const r = await page.evaluate(
      () =>
        (globalThis as unknown as { __bench: { appStartResult?: Promise<AppStartResult> } }).__bench.appStartResult!,
    );
    if (prof) {
      const file = path.join(profileDir!, 'B-start.cpuprofile');
      await (prof as { stop(f: string): Promise<void> }).stop(file);
      await summarize('B-start', file);
    }
    startCpu.push(m.stop());
    await page.close();
    starts.push({ ...r, cold });
    log(
      `B. ${cold ? 'cold (browser restarted)' : 'new page'} start ${k + 1}: engine ${fmtMs(r.engineMs)} ms (open ${fmtMs(r.openMs)}, load ${fmtMs(r.loadMs)}, index ${fmtMs(r.indexMs)}, decide ${fmtMs(r.decideMs)}); ` +
        `navigation → script ${fmtMs(r.navToScriptMs)} ms, → first decision ${fmtMs(r.fromNavigationMs)} ms; ${r.firstDecision}; heap ${r.heapMb ?? '?'} MB`,
    );
    if (r.tickets !== CFG.tickets) throw new Error(`app start found ${r.tickets} tickets, expected ${CFG.tickets}`);
  }
  cpu.start = combineCpu(startCpu);

  // D, C, E in one page: the app as it runs at a gate
  const page = await browser.openPage(`${host.origin}/`);
  cleanups.push(() => page.close().catch(() => undefined));
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    await settle();
    const prof = PROFILE ? await startPageProfile(page) : null;
    const c = measureCpu(groups);
    const r = await fn();
    cpu[name] = c.stop();
    if (prof) {
      const file = path.join(profileDir!, `${name}.cpuprofile`);
      await prof.stop(file);
      await summarize(name, file);
    }
    return r;
  };

  // D. Durable scans
  const durable = await phase('durable', () =>
    callPage<DurableScansResult>(
      page,
      'durableScans',
      cfg,
      mainDb,
      pick.durable.map((i) => codes[i]!),
      'default',
    ),
  );
  const durableStats = stats(durable.totalMs);
  const durableExpected = durable.results['valid/admitted'] === pick.durable.length;
  log(
    `D. ${fmtInt(durable.totalMs.length)} durable scans (Scanner.scanOffline): ${fmtStats(durableStats)}; appendScan ${fmtStats(stats(durable.appendMs))}; ` +
      `results ${JSON.stringify(durable.results)}; seqs ${durable.firstSeq}–${durable.lastSeq}; reloadManifest first ${fmtMs(durable.reloadMs)} ms`,
  );

  // C. Offline decisions
  const decisions = await phase('decisions', () =>
    callPage<DecisionsResult>(
      page,
      'decisions',
      cfg,
      mainDb,
      pick.decisions.map((i) => codes[i]!),
    ),
  );
  const decisionStats = stats(decisions.totalMs);
  const scannedSet = new Set(pick.durable);
  let decisionMismatches = 0;
  pick.decisions.forEach((t, i) => {
    const v = decisions.verdicts[i]!;
    if (scannedSet.has(t) ? v.startsWith('valid/') : v !== 'valid/admitted') decisionMismatches++;
  });
  log(
    `C. ${fmtInt(decisions.totalMs.length)} offline decisions: ${fmtStats(decisionStats)}; lookup ${fmtStats(stats(decisions.lookupMs))}; own scans ${fmtStats(stats(decisions.ownMs))}; ` +
      `decideLocally ${fmtStats(stats(decisions.decideMs))}; results ${JSON.stringify(decisions.results)}; ${decisions.withOwnScans} with own scans; ${decisionMismatches} unexpected`,
  );

  // E. Sync of the pending scans
  host.takeProxyLog();
  const sync = await phase('sync', () => callPage<SyncResult>(page, 'sync', cfg, mainDb));
  const syncProxy = proxySummary(host.takeProxyLog());
  const serverStatus = await api.expect<{ acked_through?: number; last_seq?: number; missing_count?: number }>(
    200,
    'GET',
    `/api/v1/offline/sync/status/${event.eventId}/${encodeURIComponent(cfg.deviceId)}`,
    server.adminToken,
  );
  const syncVerified =
    sync.lastError === null &&
    sync.pendingAfter === 0 &&
    sync.pendingBefore === durable.lastSeq &&
    sync.ackedThrough === durable.lastSeq &&
    serverStatus.acked_through === durable.lastSeq &&
    (sync.lastSummary?.failed ?? 1) === 0;
  log(
    `E. sync of ${fmtInt(sync.pendingBefore)} pending scans: outbox drained and acknowledged in ${fmtMs(sync.uploadMs)} ms (${sync.uploads.length} uploads: ` +
      `${sync.uploads.map((u) => `${u.scans} scans read ${fmtMs(u.readMs)} + request ${fmtMs(u.requestMs)} + ack ${fmtMs(u.ackMs)}`).join('; ')}); signing ${fmtMs(sync.signMs)} ms; ` +
      `whole run with the delta download ${fmtMs(sync.cycleMs)} ms; pending after ${sync.pendingAfter}; server acked_through ${serverStatus.acked_through}${syncVerified ? '' : ' — NOT AS EXPECTED'}`,
  );

  // The rest of the run, after the upload: the delta download (what a periodic sync costs the device besides uploading)
  const after = (op: string): number =>
    sync.storeCalls.filter((c) => c.op === op && c.start >= sync.uploadMs).reduce((a, c) => a + (c.end - c.start), 0);
  const downloadBreakdown = {
    loadManifestMs: round(after('loadManifest'), 1),
    loadManifestCalls: sync.storeCalls.filter((c) => c.op === 'loadManifest').length,
    applyManifestDeltaMs: round(after('applyManifestDelta'), 1),
    requestsMs: round(
      sync.fetches.filter((f) => f.method === 'GET').reduce((a, f) => a + (f.end - f.start), 0),
      1,
    ),
    deltaTickets: sync.storeCalls.filter((c) => c.op === 'applyManifestDelta').reduce((a, c) => a + (c.rows ?? 0), 0),
  };
  log(
    `E. after the upload, the delta download: ${downloadBreakdown.loadManifestCalls} × loadManifest ${fmtMs(downloadBreakdown.loadManifestMs)} ms, ` +
      `applyManifestDelta (${downloadBreakdown.deltaTickets} tickets) ${fmtMs(downloadBreakdown.applyManifestDeltaMs)} ms, requests ${fmtMs(downloadBreakdown.requestsMs)} ms`,
  );

  // Floor: the same number of scans straight from Node to the server, for the second device
  const floorPlan: OfflinePlan = {
    perDevice: [pick.floor.map((ticket, i) => ({ ticket, at: Date.now() - 20 * 60_000 + i * 100 }))],
    doubled: [],
    notScanned: [],
    totalScans: pick.floor.length,
  };
  const floorBuilt = buildUploads({
    eventId: event.eventId,
    devices: [floorDevice!],
    plan: floorPlan,
    codes,
    batchSize: 500,
    gzip: false,
  });
  await settle();
  const floor = await uploadSequentially(
    pool,
    floorDevice!,
    floorBuilt.perDevice[0]!.map((u) => u.body),
  );
  if (floor.ackedThrough !== pick.floor.length)
    throw new Error(`floor uploads acked through ${floor.ackedThrough}, expected ${pick.floor.length}`);
  log(
    `floor: ${fmtInt(pick.floor.length)} scans in ${floorBuilt.perDevice[0]!.length} uploads straight from Node: ${fmtMs(floor.wallMs)} ms (${floor.perUploadMs.map((x) => fmtMs(x)).join(', ')} ms)`,
  );

  // F. Diagnostic: strict durability
  const strict = await phase('strict', () =>
    callPage<DurableScansResult>(
      page,
      'durableScans',
      cfg,
      mainDb,
      pick.fresh.slice(0, CFG.strict).map((i) => codes[i]!),
      'strict',
    ),
  );
  const strictStats = stats(strict.totalMs);
  log(
    `F. ${fmtInt(strict.totalMs.length)} durable scans with strict durability: ${fmtStats(strictStats)}; appendScan ${fmtStats(stats(strict.appendMs))}`,
  );

  // G. Ceiling for the manifest's storage: the same rows with IndexedDB directly, per ticket and in chunks
  const idb = await phase('idb-ceiling', () =>
    callPage<IdbCeilingResult>(page, 'idbCeiling', cfg, mainDb, 'entrada-bench-ceiling', 1_000),
  );
  log(
    `G. IndexedDB directly, ${fmtInt(idb.tickets)} tickets: one record each put ${fmtMs(idb.perTicketPutMs)} ms, getAll + Map ${fmtMs(idb.perTicketGetAllMs)} ms; ` +
      `in records of ${fmtInt(idb.chunkSize)}: put ${fmtMs(idb.chunkedPutMs)} ms, getAll + Map ${fmtMs(idb.chunkedGetAllMs)} ms`,
  );

  await page.close();
  await browser.close();
  await api.close();
  await pool.close().catch(() => undefined);
  await server.stop();

  // Report
  const fullSize = CFG.tickets >= TARGETS.fullSizeTickets;
  const warm = starts.filter((s) => !s.cold);
  const cold = starts.filter((s) => s.cold);
  const dlTotal = stats(downloads.map((d) => d.totalMs));
  const warmEngine = stats(warm.map((s) => s.engineMs));
  const coldEngine = stats(cold.map((s) => s.engineMs));
  const allEngine = stats(starts.map((s) => s.engineMs));
  const step = (k: keyof DownloadResult['steps']): string => fmtMs(median(downloads.map((d) => d.steps[k])));
  const syncScans = sync.pendingBefore;
  const dlProxyTtfb = downloadProxy.flatMap((p) =>
    Object.entries(p.byPath)
      .filter(([k]) => k.includes('/offline/manifest/'))
      .flatMap(([, v]) => v.upstreamFirstByteMs),
  );
  const uploadProxy = Object.entries(syncProxy.byPath).find(([k]) => k === 'POST /api/v1/offline/sync')?.[1];

  const targets = [
    {
      target: `${fmtInt(CFG.tickets)}-ticket manifest downloaded → ready to scan ≤ ${TARGETS.manifestReadyMs / 1000} s (median of ${downloads.length})`,
      value: `${fmtS(dlTotal.p50)} (max ${fmtS(dlTotal.max)})`,
      ok: fullSize ? dlTotal.p50 <= TARGETS.manifestReadyMs : null,
    },
    {
      target: `engine start with the manifest stored ≤ ${TARGETS.appStartMs / 1000} s (median of ${starts.length}, new pages and browser restarts)`,
      value: `${fmtS(allEngine.p50)} (max ${fmtS(allEngine.max)})`,
      ok: fullSize ? allEngine.p50 <= TARGETS.appStartMs : null,
    },
    {
      target: `offline decision p99 ≤ ${TARGETS.decisionP99Ms} ms (${fmtInt(decisions.totalMs.length)} codes)`,
      value: `${fmtMs(decisionStats.p99)} ms`,
      ok: decisionStats.p99 <= TARGETS.decisionP99Ms,
    },
    {
      target: `scan durable in IndexedDB p99 ≤ ${TARGETS.durableP99Ms} ms (${fmtInt(durable.totalMs.length)} scans)`,
      value: `${fmtMs(durableStats.p99)} ms`,
      ok: durableStats.p99 <= TARGETS.durableP99Ms,
    },
    {
      target: `sync of ${fmtInt(syncScans)} pending scans ≤ ${TARGETS.syncMs / 1000} s`,
      value: fmtS(sync.uploadMs),
      ok: syncScans >= TARGETS.syncScans ? sync.uploadMs <= TARGETS.syncMs : null,
    },
    {
      target: 'verdicts, outbox and server acknowledgement as expected',
      value: durableExpected && decisionMismatches === 0 && syncVerified ? 'yes' : 'no',
      ok: durableExpected && decisionMismatches === 0 && syncVerified,
    },
  ];

  const rows: Array<Array<string | number>> = [];
  rows.push([
    `bulk create ${fmtInt(CFG.tickets)} tickets`,
    fmtS(bulk.totalMs),
    `${bulk.callMs.length} calls; server on ${POSTGRES ? 'PostgreSQL' : 'PGlite'}`,
  ]);
  rows.push([
    'ceiling: full manifest straight from the server (Node, gzip)',
    `first byte ${fmtMs(ceiling.ttfbP50Ms)} ms`,
    `total ${fmtMs(ceiling.totalP50Ms)} ms (p50 of ${ceilingRuns.length}); ${fmtBytes(ceiling.wireBytes)} on the wire`,
  ]);
  rows.push([
    `**A. manifest download → ready to scan** (${downloads.length} runs, new page and database each)`,
    `**${fmtS(dlTotal.p50)}** (median)`,
    `runs ${downloads.map((d) => fmtS(d.totalMs)).join(', ')}; ${fmtBytes(downloads[0]!.manifestWireBytes)} gzip, ${(downloads[0]!.manifestJsonChars / 1e6).toFixed(1)} MB JSON`,
  ]);
  rows.push([
    'A. where the time goes (median of runs)',
    `first byte ${step('firstByteMs')} ms`,
    `server build (proxy) ${fmtMs(median(dlProxyTtfb))}; body ${step('bodyMs')}; JSON.parse ${step('parseMs')}; saveManifest ${step('saveMs')}; feed ${step('feedMs')}; loadManifest ${step('loadMs')}; ManifestIndex ${step('indexMs')}; first decision ${step('decideMs')}; other ${step('otherMs')} ms`,
  ]);
  rows.push([
    `**B. engine start, manifest stored** (${warm.length} new pages)`,
    `**${fmtMs(warmEngine.p50)} ms**`,
    `max ${fmtMs(warmEngine.max)} ms; open ${fmtMs(median(warm.map((s) => s.openMs)))}, loadManifest ${fmtMs(median(warm.map((s) => s.loadMs)))}, ManifestIndex ${fmtMs(median(warm.map((s) => s.indexMs)))}, first decision ${fmtMs(median(warm.map((s) => s.decideMs)))} ms; navigation → first decision ${fmtMs(median(warm.map((s) => s.fromNavigationMs)))} ms; heap ${warm[0]?.heapMb ?? '?'} MB`,
  ]);
  if (cold.length) {
    rows.push([
      `B. engine start after a browser restart (${cold.length} runs)`,
      `${fmtMs(coldEngine.p50)} ms`,
      `max ${fmtMs(coldEngine.max)} ms; loadManifest ${fmtMs(median(cold.map((s) => s.loadMs)))} ms; navigation → first decision ${fmtMs(median(cold.map((s) => s.fromNavigationMs)))} ms`,
    ]);
  }
  rows.push([
    `**C. offline decision** (${fmtInt(decisions.totalMs.length)} codes, ${decisions.withOwnScans} with own scans)`,
    `**p99 ${fmtMs(decisionStats.p99)} ms**`,
    `${fmtStats(decisionStats)}; lookup + Ed25519 verify p50 ${fmtMs(stats(decisions.lookupMs).p50)}, own scans (IndexedDB) p50 ${fmtMs(stats(decisions.ownMs).p50)} / p99 ${fmtMs(stats(decisions.ownMs).p99)}, decideLocally p50 ${fmtMs(stats(decisions.decideMs).p50)} ms`,
  ]);
  rows.push([
    `**D. scan made durable** (Scanner.scanOffline, ${fmtInt(durable.totalMs.length)} scans)`,
    `**p99 ${fmtMs(durableStats.p99)} ms**`,
    `${fmtStats(durableStats)}; of which appendScan (IndexedDB commit) p50 ${fmtMs(stats(durable.appendMs).p50)} / p99 ${fmtMs(stats(durable.appendMs).p99)}, own-scans read p50 ${fmtMs(stats(durable.ownReadMs).p50)} ms`,
  ]);
  rows.push([
    `**E. sync of ${fmtInt(syncScans)} pending scans** (SyncLoop, ${sync.uploads.length} signed uploads)`,
    `**${fmtS(sync.uploadMs)}**`,
    `per upload: ${sync.uploads.map((u) => `read ${fmtMs(u.readMs)} + request ${fmtMs(u.requestMs)} + ack ${fmtMs(u.ackMs)}`).join('; ')} ms; server (proxy) ${uploadProxy ? uploadProxy.upstreamFirstByteMs.map((x) => fmtMs(x)).join(', ') : '?'} ms`,
  ]);
  rows.push([
    "E. the same run's delta download after the upload",
    fmtS(sync.cycleMs - sync.uploadMs),
    `${downloadBreakdown.loadManifestCalls} × loadManifest (all tickets) ${fmtS(downloadBreakdown.loadManifestMs)}, applyManifestDelta of ${fmtInt(downloadBreakdown.deltaTickets)} tickets ${fmtS(downloadBreakdown.applyManifestDeltaMs)}, requests ${fmtS(downloadBreakdown.requestsMs)}`,
  ]);
  rows.push([
    `floor: ${fmtInt(pick.floor.length)} scans uploaded straight from Node`,
    fmtS(floor.wallMs),
    `${floor.perUploadMs.map((x) => fmtMs(x)).join(', ')} ms per upload`,
  ]);
  rows.push([
    `F. diagnostic: durable scan with strict IndexedDB durability (${strict.totalMs.length})`,
    `p99 ${fmtMs(strictStats.p99)} ms`,
    fmtStats(strictStats),
  ]);
  rows.push([
    `G. ceiling: the ${fmtInt(idb.tickets)} manifest rows with IndexedDB directly, one record per ticket`,
    `put ${fmtS(idb.perTicketPutMs)}`,
    `getAll + Map ${fmtS(idb.perTicketGetAllMs)}; DexieStore in A/B: saveManifest ${fmtS(median(downloads.map((d) => d.steps.saveMs)))}, loadManifest ${fmtS(median(warm.map((s) => s.loadMs)))} (medians)`,
  ]);
  rows.push([
    `G. ceiling: the same rows in records of ${fmtInt(idb.chunkSize)} tickets`,
    `put ${fmtS(idb.chunkedPutMs)}`,
    `getAll + Map ${fmtS(idb.chunkedGetAllMs)}`,
  ]);
  for (const [k, c] of Object.entries(cpu))
    rows.push([`CPU during ${k}`, `${c.machineBusy.toFixed(2)} cores`, describeCpu(c)]);

  const header = [
    `## Client benchmark: scanner engine in Chromium${QUICK ? ' (--quick)' : ''}${PROFILE ? ' (page CPU-profiled: figures understated)' : ''}`,
    '',
    `${startedAt.toISOString()} · ${machine.cores} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB · Node ${machine.node} · ${chromiumVer} (headless) · ${machine.kernel}`,
    `Machine busy before start: ${busyBefore.toFixed(2)} cores. Browser, server${POSTGRES ? ', PostgreSQL' : ' (PGlite in-process)'} and this script share these cores.`,
    `Code: fingerprint ${code.sha256} (${code.files} files of packages/client, core and server); ${fmtInt(CFG.tickets)} tickets with signed codes; device with an Ed25519 key.`,
    '',
  ].join('\n');
  console.log(
    `\n${header}${markdownTable(['measure', 'figure', 'detail'], rows)}\n\n${markdownTable(
      ['target', 'measured', 'result'],
      targets.map((x) => [x.target, x.value, pass(x.ok)]),
    )}\n`,
  );

  const finishedAt = new Date();
  const file = await saveJson(`client-${timestamp(startedAt)}.json`, {
    benchmark: 'client-scanner',
    mode: QUICK ? 'quick' : 'full',
    profiled: PROFILE,
    command: `node --import tsx bench/client-scanner.ts ${argv.join(' ')}`.trim(),
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    runtimeS: round((finishedAt.getTime() - startedAt.getTime()) / 1000, 1),
    machine,
    machineBusyBeforeStart: busyBefore,
    code,
    chromium: { version: chromiumVer, path: CHROMIUM_PATH, args: ['--headless', ...CHROMIUM_ARGS] },
    server: { database: POSTGRES ? 'postgres' : 'pglite', postgresVersion: pgVersion },
    config: CFG,
    targetsConfig: TARGETS,
    bundleBytes: bundle.bytes,
    setup: { bulkCreateS: round(bulk.totalMs / 1000, 3), warmUpMs: Math.round(warmMs) },
    ceiling,
    download: { summary: dlTotal, runs: downloads, proxy: downloadProxy },
    start: { warm: warmEngine, cold: coldEngine, all: allEngine, runs: starts },
    decisions: {
      summary: decisionStats,
      lookup: stats(decisions.lookupMs),
      own: stats(decisions.ownMs),
      decide: stats(decisions.decideMs),
      results: decisions.results,
      withOwnScans: decisions.withOwnScans,
      mismatches: decisionMismatches,
      setupMs: round(decisions.setupMs, 1),
      samples: {
        totalMs: roundAll(decisions.totalMs),
        lookupMs: roundAll(decisions.lookupMs),
        ownMs: roundAll(decisions.ownMs),
        decideMs: roundAll(decisions.decideMs),
      },
    },
    durable: {
      summary: durableStats,
      append: stats(durable.appendMs),
      ownRead: stats(durable.ownReadMs),
      results: durable.results,
      expected: durableExpected,
      firstSeq: durable.firstSeq,
      lastSeq: durable.lastSeq,
      reloadMs: round(durable.reloadMs, 1),
      samples: {
        totalMs: roundAll(durable.totalMs),
        appendMs: roundAll(durable.appendMs),
        ownReadMs: roundAll(durable.ownReadMs),
      },
    },
    sync: { ...sync, proxy: syncProxy, serverStatus, verified: syncVerified, downloadBreakdown },
    floor: { scans: pick.floor.length, wallMs: round(floor.wallMs, 1), perUploadMs: roundAll(floor.perUploadMs) },
    strict: {
      summary: strictStats,
      append: stats(strict.appendMs),
      results: strict.results,
      samples: { totalMs: roundAll(strict.totalMs) },
    },
    idbCeiling: idb,
    cpu,
    profiles,
    profileDir,
    targets,
  });
  log(`results saved to ${file} (total ${control.elapsedS().toFixed(0)} s)`);
}

await control.run(main);
