/**
 * Online scanning benchmark (issue: online gate scanning).
 *
 *   node --import tsx bench/online-scan.ts [--quick] [--profile] [--skip-pgbench] [--skip-pglite] [--wait-quiet] [--analyze]
 *   npm run bench:online -- --quick
 *
 * 1. Ceiling: pgbench -N on a scratch database of the same PostgreSQL server.
 * 2. An Entrada server on a fresh PostgreSQL database, in a child process.
 * 3. Through the HTTP API: an event, 100,000 tickets in calls of 10,000
 *    (timed), 50 devices each with a scan session (warms the ticket cache).
 * 4. Saturation: 64 requests in flight, each ticket scanned once (all must be
 *    `valid`); then the same on already used tickets (all must be `duplicate`).
 * 5. Fixed rate: open loop at 1,000 scans/s on fresh tickets, latency from the
 *    scheduled send time.
 * 6. The embedded default (PGlite): 20,000 tickets and a saturation phase.
 * 7. A markdown table on stdout, JSON in bench/results/online-<timestamp>.json.
 *
 * Every database and folder it creates is removed at the end. --profile
 * CPU-profiles the servers during the saturation phases (in-process V8
 * profiler, files in bench/results/profile-<timestamp>/) and summarises where
 * their time goes; the profiler costs throughput, so do not compare profiled
 * figures with others.
 * --wait-quiet waits (up to 3 minutes) for the machine to be idle before starting.
 * --analyze runs ANALYZE on the benchmark database after the warm-up (a
 * diagnostic: the server's prepared statements are then replanned with real
 * statistics; the default leaves the database as a fresh installation has it).
 * Environment: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres);
 * BENCH_SERVER_NODE_ARGS, extra node options for the server children (e.g. --trace-gc).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { Api, bulkCreateTickets, createBenchEvent, registerScanners, scanOnce, type BenchDevice, type BulkCreateResult } from './lib/api.ts';
import { createRunControl, round, waitQuiet } from './lib/run-control.ts';
import { commandGroup, machineBusyNow, measureCpu, pidGroup, type CpuUsage } from './lib/cpu.ts';
import { summarizeCpuProfile, type ProfileSummary } from './lib/cpuprofile.ts';
import { fmtMs } from './lib/latency.ts';
import { closedLoop, openLoop, type OpenLoopResult, type PhaseResult } from './lib/load.ts';
import { codeFingerprint, machineInfo } from './lib/machine.ts';
import { pgbenchCeiling, type PgbenchResult } from './lib/pgbench.ts';
import {
  ADMIN_URL, analyze, appliedMigrations, checkpoint, createScratchDatabase, indexStats, sampleActivity, serverSettings, serverVersion, tableStats, writeCounters,
  type ActivitySummary,
} from './lib/postgres.ts';
import { fmtInt, markdownTable, pass, RESULTS_DIR, saveJson, timestamp } from './lib/report.ts';
import { spawnServer, type ServerProcess } from './lib/spawn-server.ts';

const args = new Set(process.argv.slice(2));
for (const a of args) {
  if (!['--quick', '--profile', '--skip-pgbench', '--skip-pglite', '--wait-quiet', '--analyze'].includes(a)) {
    console.error(`unknown option ${a}\nusage: node --import tsx bench/online-scan.ts [--quick] [--profile] [--skip-pgbench] [--skip-pglite] [--wait-quiet] [--analyze]`);
    process.exit(2);
  }
}
const QUICK = args.has('--quick');
const PROFILE = args.has('--profile');
const ANALYZE = args.has('--analyze');
const SERVER_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

const CFG = QUICK
  ? {
    pgbench: { scale: 10, durationS: 4, runs: [{ clients: 8, threads: 2 }, { clients: 32, threads: 2 }] },
    tickets: 40_000, perCall: 10_000, devices: 50, gates: 4, concurrency: 64,
    warmup: { ms: 1_500, maxTickets: 4_000 }, serialMs: 1_000, saturationMs: 5_000, duplicateMs: 3_000, fixed: { rate: 1_000, ms: 5_000 },
    pglite: { tickets: 20_000, perCall: 10_000, devices: 50, concurrency: 64, warmupMs: 1_000, serialMs: 1_000, saturationMs: 5_000 },
    watchdogMs: 4 * 60_000,
  }
  : {
    pgbench: { scale: 10, durationS: 20, runs: [{ clients: 8, threads: 2 }, { clients: 32, threads: 2 }] },
    tickets: 100_000, perCall: 10_000, devices: 50, gates: 4, concurrency: 64,
    warmup: { ms: 3_000, maxTickets: 8_000 }, serialMs: 2_000, saturationMs: 15_000, duplicateMs: 10_000, fixed: { rate: 1_000, ms: 15_000 },
    pglite: { tickets: 20_000, perCall: 10_000, devices: 50, concurrency: 64, warmupMs: 2_000, serialMs: 2_000, saturationMs: 10_000 },
    watchdogMs: 8 * 60_000,
  };

const TARGETS = {
  ceilingRatio: 0.8,
  bulkCreateMs: 10_000,
  fixedP50Ms: 1,
  fixedP99Ms: 5,
  pgliteScansPerS: 1_000,
};

const control = createRunControl({ watchdogMs: CFG.watchdogMs });
const { log, cleanups } = control;


// ---- helpers ---------------------------------------------------------------------------------------------
interface Instrumented<T> {
  phase: T; cpu: CpuUsage; activity?: ActivitySummary;
  /** PostgreSQL only, cluster-wide: write transactions per second and WAL bytes per write transaction. */
  writeTxPerS?: number; walBytesPerWriteTx?: number | null;
}

/** Runs a phase while measuring CPU per process group and (PostgreSQL) connection states and write transactions. */
async function instrumented<T extends PhaseResult>(
  server: ServerProcess, pg: { database: string } | null, run: () => Promise<T>,
): Promise<Instrumented<T>> {
  const before = pg ? await writeCounters(ADMIN_URL) : null;
  const groups = { server: pidGroup(server.pid), loadgen: pidGroup(process.pid), postgres: commandGroup('postgres') };
  const cpu = measureCpu(pg ? groups : { server: groups.server, loadgen: groups.loadgen });
  const activity = pg ? sampleActivity(ADMIN_URL, pg.database, 50) : null;
  const phase = await run();
  const usage = cpu.stop();
  const after = pg ? await writeCounters(ADMIN_URL) : null;
  const act = activity ? await activity.stop() : undefined;
  const out: Instrumented<T> = { phase, cpu: usage, ...(act ? { activity: act } : {}) };
  if (before && after) {
    const tx = after.nextXid - before.nextXid;
    out.writeTxPerS = tx / phase.durationS;
    out.walBytesPerWriteTx = tx > 0 ? Math.round((after.walBytes - before.walBytes) / tx) : null;
  }
  return out;
}

function describePhase(p: PhaseResult): string {
  const l = p.latencyMs;
  const errs = p.errors > 0 ? `, ${p.errors} ERRORS ${JSON.stringify(p.outcomes)}` : '';
  return `${fmtInt(p.ok)} ok in ${p.durationS.toFixed(1)} s = ${fmtInt(p.throughput)}/s, p50 ${fmtMs(l.p50)} ms, p99 ${fmtMs(l.p99)} ms, max ${fmtMs(l.max)} ms${p.exhausted ? ' (ran out of tickets)' : ''}${errs}`;
}

function describeCpu(c: CpuUsage): string {
  const g = Object.entries(c.groups).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
  return `CPU (cores of ${c.cores}): ${g}, other ${c.other.toFixed(2)}, machine busy ${c.machineBusy.toFixed(2)}${c.steal > 0.005 ? `, stolen by the hypervisor ${c.steal.toFixed(2)}` : ''}`;
}

/** Start times of clusters of slow requests (a new cluster after a 200 ms gap). */
function stalls(dueAtMs: number[]): number[] {
  const starts: number[] = [];
  let last = -Infinity;
  for (const t of dueAtMs) {
    if (t - last > 200) starts.push(t);
    last = t;
  }
  return starts;
}

/** Hands out ticket codes in order, each at most once, up to a limit. */
class TicketSource {
  private next = 0;
  constructor(private readonly codes: string[]) {}
  take(limit: number): string | undefined {
    return this.next < Math.min(limit, this.codes.length) ? this.codes[this.next++] : undefined;
  }
  get used(): number { return this.next; }
  get size(): number { return this.codes.length; }
}

async function scanPhases(opts: {
  label: string; server: ServerProcess; pg: { database: string; url: string } | null; devices: BenchDevice[]; codes: string[];
  concurrency: number; warmupMs: number; warmupTickets: number; saturationMs: number; duplicateMs: number | null;
  fixed: { rate: number; ms: number } | null;
  /** Duration of a one-request-at-a-time phase before saturation (0: none). */
  serialMs: number;
  /** CPU-profile the server during the saturation phases, into this folder. */
  profileDir?: string | null;
}): Promise<{
  profiles: Record<string, string>;
  warmup: PhaseResult;
  serial: PhaseResult | null;
  saturation: Instrumented<PhaseResult>;
  duplicate: Instrumented<PhaseResult> | null;
  fixedRate: Instrumented<OpenLoopResult> | null;
}> {
  const pool = new Pool(opts.server.url, { connections: opts.concurrency, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
  cleanups.push(() => pool.destroy().catch(() => undefined));
  const source = new TicketSource(opts.codes);
  const devices = opts.devices;
  // Tickets kept back for the fixed-rate phase (plus 2% for timer catch-up).
  const fixedBudget = opts.fixed ? Math.ceil(opts.fixed.rate * (opts.fixed.ms / 1000) * 1.02) + 100 : 0;
  const saturationLimit = source.size - fixedBudget;
  const admitted: string[] = [];

  // Warm-up: JIT, connection pools, and time for the ticket cache to finish loading.
  log(`${opts.label}: warm-up ${opts.warmupMs / 1000} s`);
  const warmLimit = Math.min(opts.warmupTickets, saturationLimit);
  const warmup = await closedLoop<{ d: BenchDevice; code: string }>({
    name: 'warm-up', concurrency: opts.concurrency, durationMs: opts.warmupMs, expect: 'valid',
    next: (w) => { const code = source.take(warmLimit); return code === undefined ? undefined : { d: devices[w % devices.length]!, code }; },
    run: (j) => scanOnce(pool, j.d, j.code),
  });
  log(`${opts.label}: warm-up ${describePhase(warmup)}`);
  if (opts.pg && ANALYZE) {
    await analyze(opts.pg.url);
    log(`${opts.label}: --analyze: ANALYZE done, cached plans will be rebuilt`);
  }
  if (opts.pg) await checkpoint();

  const profiles: Record<string, string> = {};
  const profiled = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    if (!opts.profileDir) return fn();
    const file = path.join(opts.profileDir, `${opts.label}-${name}.cpuprofile`);
    await opts.server.startProfile();
    try {
      return await fn();
    } finally {
      await opts.server.stopProfile(file);
      profiles[name] = file;
    }
  };

  // One scan at a time from one device: the latency of a scan with no queueing anywhere.
  let serial: PhaseResult | null = null;
  if (opts.serialMs) {
    const d = devices[0]!;
    const limit = Math.min(saturationLimit, source.used + 5_000);
    serial = await closedLoop<string>({
      name: 'one at a time', concurrency: 1, durationMs: opts.serialMs, expect: 'valid',
      next: () => source.take(limit),
      run: (code) => scanOnce(pool, d, code),
    });
    log(`${opts.label}: one scan at a time ${describePhase(serial)}`);
  }

  log(`${opts.label}: saturation, ${opts.concurrency} in flight over ${devices.length} devices, ${opts.saturationMs / 1000} s, fresh tickets (expect valid)`);
  const saturation = await instrumented(opts.server, opts.pg, () => profiled('valid', () => closedLoop<{ d: BenchDevice; code: string }>({
    name: 'saturation (valid)', concurrency: opts.concurrency, durationMs: opts.saturationMs, expect: 'valid',
    next: (w) => { const code = source.take(saturationLimit); return code === undefined ? undefined : { d: devices[w % devices.length]!, code }; },
    run: async (j) => {
      const label = await scanOnce(pool, j.d, j.code);
      if (label === 'valid') admitted.push(j.code);
      return label;
    },
  })));
  log(`${opts.label}: saturation ${describePhase(saturation.phase)}`);
  log(`${opts.label}: ${describeCpu(saturation.cpu)}`);
  if (saturation.activity) log(`${opts.label}: server's PostgreSQL connections (average per sample): ${JSON.stringify(saturation.activity.averageConnections)}`);

  let duplicate: Instrumented<PhaseResult> | null = null;
  if (opts.duplicateMs !== null && admitted.length > 0) {
    log(`${opts.label}: saturation on used tickets, ${opts.duplicateMs / 1000} s (expect duplicate)`);
    let i = 0;
    duplicate = await instrumented(opts.server, opts.pg, () => profiled('duplicate', () => closedLoop<{ d: BenchDevice; code: string }>({
      name: 'saturation (duplicate)', concurrency: opts.concurrency, durationMs: opts.duplicateMs!, expect: 'duplicate',
      // Another device than the one that admitted it (most of the time): "already used", the rejection insert path.
      next: (w) => ({ d: devices[(w + 7) % devices.length]!, code: admitted[i++ % admitted.length]! }),
      run: (j) => scanOnce(pool, j.d, j.code),
    })));
    log(`${opts.label}: duplicates ${describePhase(duplicate.phase)}`);
    log(`${opts.label}: ${describeCpu(duplicate.cpu)}`);
  }

  let fixedRate: Instrumented<OpenLoopResult> | null = null;
  if (opts.fixed) {
    const { rate, ms } = opts.fixed;
    log(`${opts.label}: fixed rate ${rate}/s for ${ms / 1000} s, fresh tickets (open loop)`);
    fixedRate = await instrumented(opts.server, opts.pg, () => openLoop<{ d: BenchDevice; code: string }>({
      name: `fixed rate ${rate}/s`, rate, durationMs: ms, expect: 'valid',
      next: (i) => { const code = source.take(source.size); return code === undefined ? undefined : { d: devices[i % devices.length]!, code }; },
      run: (j) => scanOnce(pool, j.d, j.code),
    }));
    const f = fixedRate.phase;
    log(`${opts.label}: fixed rate ${describePhase(f)}; from scheduled time p90 ${fmtMs(f.latencyMs.p90)} ms; service time p50 ${fmtMs(f.serviceLatencyMs.p50)} / p99 ${fmtMs(f.serviceLatencyMs.p99)} ms; send lag p50 ${fmtMs(f.sendLagMs.p50)} / p99 ${fmtMs(f.sendLagMs.p99)} ms`);
    if (f.slow.dueAtMs.length > 0) log(`${opts.label}: replies slower than ${f.slow.thresholdMs} ms: ${f.slow.dueAtMs.length}, in stalls starting at ${stalls(f.slow.dueAtMs).map((t) => `${(t / 1000).toFixed(2)} s`).join(', ')} into the phase`);
  }
  // Replies still owed (an overloaded phase): drop the connections rather than wait for them.
  if ((fixedRate?.phase.abandoned ?? 0) > 0) await pool.destroy();
  else await pool.close();
  return { profiles, warmup, serial, saturation, duplicate, fixedRate };
}

async function setUp(label: string, server: ServerProcess, tickets: number, perCall: number, deviceCount: number, gates: number): Promise<{
  api: Api; bulk: BulkCreateResult; devices: BenchDevice[]; eventId: string; setupMs: { event: number; devices: number };
}> {
  const api = new Api(server.url, { connections: 4 });
  cleanups.push(() => api.close().catch(() => undefined));
  let t = Date.now();
  const event = await createBenchEvent(api, server.adminToken, gates);
  const eventMs = Date.now() - t;
  log(`${label}: bulk-creating ${fmtInt(tickets)} tickets in calls of ${fmtInt(perCall)}`);
  const bulk = await bulkCreateTickets(api, server.adminToken, event, tickets, perCall);
  log(`${label}: bulk create ${(bulk.totalMs / 1000).toFixed(2)} s (calls: ${bulk.callMs.map((m) => (m / 1000).toFixed(2)).join(', ')} s)`);
  t = Date.now();
  const devices = await registerScanners(api, server.adminToken, event, deviceCount);
  const devicesMs = Date.now() - t;
  log(`${label}: ${deviceCount} devices registered, each with a scan session (${devicesMs} ms)`);
  return { api, bulk, devices, eventId: event.eventId, setupMs: { event: eventMs, devices: devicesMs } };
}

function bulkSummary(b: BulkCreateResult): { tickets: number; totalS: number; perCallS: number[]; ticketsPerS: number } {
  return {
    tickets: b.codes.length, totalS: round(b.totalMs / 1000, 3), perCallS: b.callMs.map((m) => round(m / 1000, 3)),
    ticketsPerS: Math.round(b.codes.length / (b.totalMs / 1000)),
  };
}


// ---- the run -----------------------------------------------------------------------------------------------
async function main(): Promise<void> {
  const startedAt = new Date();
  const machine = machineInfo();
  const code = codeFingerprint(fileURLToPath(new URL('../', import.meta.url)), ['packages/server/src', 'packages/server/migrations', 'packages/core/src']);
  const pgVersion = await serverVersion();
  const pgSettings = await serverSettings();
  const busyBefore = args.has('--wait-quiet') ? await waitQuiet({ maxMs: 180_000, sampleMs: 2_000, consecutive: 3, log }) : await machineBusyNow(1_000);
  control.armWatchdog();
  log(`online-scan benchmark${QUICK ? ' (--quick)' : ''}: ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, PostgreSQL ${pgVersion}`);
  if (busyBefore > 0.25) log(`warning: the machine was already ${busyBefore.toFixed(2)} cores busy before the benchmark started; figures will suffer`);

  // 1. Ceiling
  let pgbench: PgbenchResult | null = null;
  if (!args.has('--skip-pgbench')) {
    log(`pgbench ceiling: -i -s ${CFG.pgbench.scale}, then -N for ${CFG.pgbench.durationS} s at ${CFG.pgbench.runs.map((r) => `-c ${r.clients}`).join(' and ')}`);
    pgbench = await pgbenchCeiling({ ...CFG.pgbench, log: (l) => log(l) });
  }

  // 2-5. Entrada on PostgreSQL
  const db = await createScratchDatabase('entrada_bench_online');
  cleanups.push(() => db.drop());
  let profileDir: string | null = null;
  if (PROFILE) {
    profileDir = path.join(RESULTS_DIR, `profile-${timestamp(startedAt)}`);
    log(`--profile: the server writes a CPU profile to ${profileDir}`);
  }
  if (profileDir) await mkdir(profileDir, { recursive: true });
  const pgServer = await spawnServer({ databaseUrl: db.url, nodeArgs: SERVER_NODE_ARGS });
  cleanups.push(() => pgServer.stop());
  log(`Entrada on PostgreSQL (database ${db.name}) listening at ${pgServer.url}, pid ${pgServer.pid}`);
  const pgSetup = await setUp('postgres', pgServer, CFG.tickets, CFG.perCall, CFG.devices, CFG.gates);
  const pgPhases = await scanPhases({
    label: 'postgres', server: pgServer, pg: { database: db.name, url: db.url }, devices: pgSetup.devices, codes: pgSetup.bulk.codes,
    concurrency: CFG.concurrency, warmupMs: CFG.warmup.ms, warmupTickets: CFG.warmup.maxTickets, saturationMs: CFG.saturationMs,
    duplicateMs: CFG.duplicateMs, fixed: CFG.fixed, serialMs: CFG.serialMs, profileDir,
  });
  const pgTables = await tableStats(db.url, ['tickets', 'scans']);
  for (const t of pgTables) {
    log(`table ${t.table}: ${fmtInt(t.inserts)} inserts, ${fmtInt(t.updates)} updates of which ${fmtInt(t.hotUpdates)} HOT, ${t.indexes} indexes, `
      + `${(t.totalBytes / 2 ** 20).toFixed(1)} MiB; last autoanalyze ${t.lastAutoanalyze ?? 'never'}`);
  }
  const migrations = await appliedMigrations(db.url);
  const scanIndexes = (await indexStats(db.url, ['scans'])).filter((i) => i.scans > 0);
  log(`scans indexes used (scans / entries read): ${scanIndexes.map((i) => `${i.index} ${fmtInt(i.scans)} / ${fmtInt(i.entriesRead)}`).join(', ')}`);
  await pgSetup.api.close();
  await pgServer.stop();
  await db.drop();
  const profile: Record<string, ProfileSummary> = {};
  for (const [name, file] of Object.entries(pgPhases.profiles)) {
    profile[name] = await summarizeCpuProfile(file, 30, ['scan', 'device', 'query', 'answer', 'resolveWhere', 'admitIfUnchanged', 'rejectIfUnchanged']);
    log(`server CPU profile during the ${name} phase: ${file} (busy ${profile[name].busyMs} ms); self time by origin:`);
    for (const o of profile[name].byOrigin.slice(0, 12)) log(`  ${o.pct.toFixed(1).padStart(5)}%  ${o.origin}`);
  }

  // 6. Embedded default: PGlite
  let pglite: { bulk: ReturnType<typeof bulkSummary>; warmup: PhaseResult; serial: PhaseResult | null; saturation: Instrumented<PhaseResult> } | null = null;
  if (!args.has('--skip-pglite')) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'entrada-bench-pglite-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const liteServer = await spawnServer({ dataDir, nodeArgs: SERVER_NODE_ARGS });
    cleanups.push(() => liteServer.stop());
    log(`Entrada on PGlite (${dataDir}) listening at ${liteServer.url}, pid ${liteServer.pid}`);
    const liteSetup = await setUp('pglite', liteServer, CFG.pglite.tickets, CFG.pglite.perCall, CFG.pglite.devices, CFG.gates);
    const litePhases = await scanPhases({
      label: 'pglite', server: liteServer, pg: null, devices: liteSetup.devices, codes: liteSetup.bulk.codes,
      concurrency: CFG.pglite.concurrency, warmupMs: CFG.pglite.warmupMs, warmupTickets: 2_000, saturationMs: CFG.pglite.saturationMs,
      duplicateMs: null, fixed: null, serialMs: CFG.pglite.serialMs, profileDir,
    });
    await liteSetup.api.close();
    await liteServer.stop();
    await rm(dataDir, { recursive: true, force: true });
    pglite = { bulk: bulkSummary(liteSetup.bulk), warmup: litePhases.warmup, serial: litePhases.serial, saturation: litePhases.saturation };
    for (const [name, file] of Object.entries(litePhases.profiles)) {
      const summary = await summarizeCpuProfile(file, 30, ['scan', 'device', 'query', 'answer']);
      profile[`pglite-${name}`] = summary;
      log(`PGlite server CPU profile during the ${name} phase: ${file}; self time by origin:`);
      for (const o of summary.byOrigin.slice(0, 10)) log(`  ${o.pct.toFixed(1).padStart(5)}%  ${o.origin}`);
    }
  }

  // 7. Report
  const ceilingRun = pgbench?.runs.find((r) => r.clients === 32) ?? pgbench?.runs.at(-1) ?? null;
  const ceiling = ceilingRun?.tps ?? null;
  const sat = pgPhases.saturation.phase;
  const dup = pgPhases.duplicate?.phase ?? null;
  const fixed = pgPhases.fixedRate?.phase ?? null;
  const bulk = bulkSummary(pgSetup.bulk);
  const ratio = ceiling ? sat.throughput / ceiling : null;
  const totalErrors = pgPhases.warmup.errors + (pgPhases.serial?.errors ?? 0) + sat.errors + (dup?.errors ?? 0) + (fixed?.errors ?? 0)
    + (pglite ? pglite.warmup.errors + (pglite.serial?.errors ?? 0) + pglite.saturation.phase.errors : 0);
  const targets = [
    { target: `saturation ≥ ${TARGETS.ceilingRatio * 100}% of pgbench -N (-c 32)`, value: ratio === null ? 'n/a' : `${(ratio * 100).toFixed(0)}%`, ok: ratio === null ? null : ratio >= TARGETS.ceilingRatio },
    { target: `bulk create ${fmtInt(CFG.tickets)} tickets ≤ ${TARGETS.bulkCreateMs / 1000} s`, value: `${bulk.totalS.toFixed(2)} s`, ok: QUICK ? null : bulk.totalS * 1000 <= TARGETS.bulkCreateMs },
    { target: `fixed rate p50 ≤ ${TARGETS.fixedP50Ms} ms`, value: fixed ? `${fmtMs(fixed.latencyMs.p50)} ms` : 'n/a', ok: fixed ? fixed.latencyMs.p50 <= TARGETS.fixedP50Ms : null },
    { target: `fixed rate p99 ≤ ${TARGETS.fixedP99Ms} ms`, value: fixed ? `${fmtMs(fixed.latencyMs.p99)} ms` : 'n/a', ok: fixed ? fixed.latencyMs.p99 <= TARGETS.fixedP99Ms : null },
    { target: `PGlite saturation ≥ ${fmtInt(TARGETS.pgliteScansPerS)} scans/s`, value: pglite ? `${fmtInt(pglite.saturation.phase.throughput)}/s` : 'n/a', ok: pglite ? pglite.saturation.phase.throughput >= TARGETS.pgliteScansPerS : null },
    { target: 'every scan answered 200 with the expected result', value: `${totalErrors} errors`, ok: totalErrors === 0 },
  ];

  const rows: Array<Array<string | number>> = [];
  if (pgbench) {
    for (const r of pgbench.runs) rows.push([`pgbench -N -c ${r.clients} -j ${r.threads} -T ${r.durationS} (scale ${pgbench.scale})`, `${fmtInt(r.tps)} tps`, `latency avg ${r.latencyAvgMs ?? '?'} ms`]);
    const c = pgbench.commitLatencyMs;
    rows.push(['one durable single-row commit at a time (latency floor)', `p50 ${fmtMs(c.p50)} ms`, `p90 ${fmtMs(c.p90)} / p99 ${fmtMs(c.p99)} ms over ${fmtInt(c.count)} commits`]);
  }
  rows.push([`bulk create ${fmtInt(bulk.tickets)} tickets (${bulk.perCallS.length} calls)`, `${bulk.totalS.toFixed(2)} s`, `${fmtInt(bulk.ticketsPerS)} tickets/s; per call ${bulk.perCallS.map((s) => s.toFixed(2)).join(', ')} s`]);
  const phaseRow = (name: string, p: PhaseResult, extra = ''): Array<string | number> => [
    name, `${fmtInt(p.throughput)} scans/s`,
    `p50 ${fmtMs(p.latencyMs.p50)} / p99 ${fmtMs(p.latencyMs.p99)} / max ${fmtMs(p.latencyMs.max)} ms; ${fmtInt(p.ok)} ok, ${p.errors} errors in ${p.durationS.toFixed(1)} s${p.exhausted ? ' (ran out of tickets)' : ''}${extra}`,
  ];
  if (pgPhases.serial) rows.push(phaseRow('PostgreSQL, one scan at a time (no queueing)', pgPhases.serial));
  rows.push(phaseRow(`PostgreSQL saturation, ${CFG.concurrency} in flight (valid)`, sat, ratio === null ? '' : `; ${(ratio * 100).toFixed(0)}% of pgbench -c 32`));
  if (dup) rows.push(phaseRow(`PostgreSQL saturation, ${CFG.concurrency} in flight (duplicate)`, dup));
  if (fixed) {
    rows.push([
      `PostgreSQL fixed rate ${fmtInt(fixed.targetRate)}/s (open loop)`, `${fmtInt(fixed.throughput)} scans/s`,
      `from scheduled time: p50 ${fmtMs(fixed.latencyMs.p50)} / p90 ${fmtMs(fixed.latencyMs.p90)} / p99 ${fmtMs(fixed.latencyMs.p99)} / max ${fmtMs(fixed.latencyMs.max)} ms; service time p50 ${fmtMs(fixed.serviceLatencyMs.p50)} / p99 ${fmtMs(fixed.serviceLatencyMs.p99)} ms; generator send lag p50 ${fmtMs(fixed.sendLagMs.p50)} / p99 ${fmtMs(fixed.sendLagMs.p99)} ms; ${fixed.slow.dueAtMs.length} replies > ${fixed.slow.thresholdMs} ms in ${stalls(fixed.slow.dueAtMs).length} stall(s); ${fixed.errors} errors${fixed.overloaded ? '; STOPPED EARLY: the server fell behind the schedule' : ''}`,
    ]);
  }
  if (pglite) {
    rows.push([`PGlite bulk create ${fmtInt(pglite.bulk.tickets)} tickets`, `${pglite.bulk.totalS.toFixed(2)} s`, `per call ${pglite.bulk.perCallS.map((s) => s.toFixed(2)).join(', ')} s`]);
    if (pglite.serial) rows.push(phaseRow('PGlite, one scan at a time (no queueing)', pglite.serial));
    rows.push(phaseRow(`PGlite saturation, ${CFG.pglite.concurrency} in flight (valid)`, pglite.saturation.phase));
  }
  const cpuRow = (name: string, c: CpuUsage): Array<string | number> => [name, `${c.machineBusy.toFixed(2)} of ${c.cores} cores busy`, Object.entries(c.groups).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ') + `, other ${c.other.toFixed(2)}, steal ${c.steal.toFixed(2)}`];
  rows.push(cpuRow('CPU during PostgreSQL saturation (valid)', pgPhases.saturation.cpu));
  if (pgPhases.duplicate) rows.push(cpuRow('CPU during PostgreSQL saturation (duplicate)', pgPhases.duplicate.cpu));
  if (pgPhases.fixedRate) rows.push(cpuRow(`CPU during fixed rate ${fmtInt(CFG.fixed.rate)}/s`, pgPhases.fixedRate.cpu));
  for (const [name, ph] of [['valid', pgPhases.saturation], ['duplicate', pgPhases.duplicate]] as const) {
    if (ph?.writeTxPerS === undefined) continue;
    rows.push([`PostgreSQL write transactions during saturation (${name})`, `${fmtInt(ph.writeTxPerS)}/s`,
      `${fmtInt(ph.walBytesPerWriteTx ?? 0)} WAL bytes per transaction (cluster-wide counters)`]);
  }
  const tk = pgTables.find((t) => t.table === 'tickets');
  if (tk) {
    rows.push(['tickets table after the run', `${fmtInt(tk.updates)} updates`,
      `${fmtInt(tk.hotUpdates)} HOT (${tk.updates ? ((tk.hotUpdates / tk.updates) * 100).toFixed(0) : 0}%); ${tk.indexes} indexes; a non-HOT update adds an entry to every index`]);
  }
  if (scanIndexes.length > 0) {
    rows.push(['indexes of `scans` used during the run', 'uses / entries read',
      scanIndexes.map((i) => `${i.index} ${fmtInt(i.scans)} / ${fmtInt(i.entriesRead)}${i.scans > 0 && i.entriesRead / i.scans > 10 ? ` (${fmtInt(i.entriesRead / i.scans)} per use!)` : ''}`).join(', ')]);
  }
  if (pgPhases.saturation.activity) {
    rows.push(['server pool connections during saturation', 'avg per sample', Object.entries(pgPhases.saturation.activity.averageConnections).map(([k, v]) => `${k} ${v}`).join(', ')]);
  }
  if (pglite) rows.push(cpuRow('CPU during PGlite saturation', pglite.saturation.cpu));

  const finishedAt = new Date();
  const header = [
    `## Online scanning benchmark${QUICK ? ' (--quick)' : ''}${PROFILE ? ' (server CPU-profiled: throughput understated)' : ''}`,
    '',
    `${startedAt.toISOString()} · ${machine.cores} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB · Node ${machine.node} · PostgreSQL ${pgVersion} · ${machine.kernel}`,
    `Machine busy before start: ${busyBefore.toFixed(2)} cores. Load generator, server and PostgreSQL share these cores (loopback HTTP).`,
    `PostgreSQL settings: ${Object.entries(pgSettings).filter(([k]) => ['synchronous_commit', 'fsync', 'autovacuum', 'shared_buffers'].includes(k)).map(([k, v]) => `${k}=${v}`).join(', ')}.`,
    `Code: fingerprint ${code.sha256} (${code.files} files of packages/server and packages/core); migrations ${migrations.join(', ') || '?'}${ANALYZE ? '; --analyze: ANALYZE after warm-up' : ''}.`,
    '',
  ].join('\n');
  const table = markdownTable(['measure', 'figure', 'detail'], rows);
  const targetTable = markdownTable(['target', 'measured', 'result'], targets.map((t) => [t.target, t.value, pass(t.ok)]));
  console.log(`\n${header}${table}\n\n${targetTable}\n`);

  const file = await saveJson(`online-${timestamp(startedAt)}.json`, {
    benchmark: 'online-scan', mode: QUICK ? 'quick' : 'full', profiled: PROFILE, command: `node --import tsx bench/online-scan.ts ${process.argv.slice(2).join(' ')}`.trim(),
    startedAt: startedAt.toISOString(), finishedAt: finishedAt.toISOString(), runtimeS: round((finishedAt.getTime() - startedAt.getTime()) / 1000, 1),
    machine, machineBusyBeforeStart: busyBefore, code, analyzeAfterWarmup: ANALYZE, postgres: { version: pgVersion, settings: pgSettings }, config: CFG, targetsConfig: TARGETS,
    pgbench,
    entradaPostgres: {
      bulkCreate: bulk, setupMs: pgSetup.setupMs, devices: pgSetup.devices.length,
      warmup: pgPhases.warmup, serial: pgPhases.serial, saturation: pgPhases.saturation, duplicate: pgPhases.duplicate, fixedRate: pgPhases.fixedRate,
      ceilingTps: ceiling, ratioToCeiling: ratio, tables: pgTables, scanIndexes, migrations, serverProfiles: PROFILE ? profile : null,
    },
    entradaPglite: pglite,
    targets,
  });
  log(`results saved to ${file} (total ${control.elapsedS().toFixed(0)} s)`);
}

await control.run(main);
