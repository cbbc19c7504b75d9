/**
 * Online scanning benchmark (issue 15: 32 devices, with and without scan sessions).
 *
 *   node --import tsx bench/online-scan.ts [--quick] [--profile] [--skip-pgbench] [--skip-pglite] [--wait-quiet] [--analyze] [--instances=N]
 *   npm run bench:online -- --quick
 *
 * 1. Ceiling: pgbench -N on a scratch database of the same PostgreSQL server.
 * 2. An Entrada server on a fresh PostgreSQL database, in a child process
 *    (--instances=N: N instances of one installation with Redis fan-out, the
 *    devices spread over them round robin).
 * 3. Through the HTTP API: two events of 100,000 tickets each in calls of
 *    10,000 (the first timed), 32 devices, each with a scan session at the
 *    first event (which warms the ticket cache for it); the second event has
 *    no session at all.
 * 4. Two modes, each on its own event and fresh tickets: `session` (the body
 *    is `{code, session_id}`) and `no-session` (`{code, event_id, gate_id}`,
 *    the ticket cache warmed only by the first scans). In each: a warm-up,
 *    one scan at a time, saturation with one request in flight per device
 *    (every answer `valid`), and an open loop at 1,000 scans/s (latency from
 *    each request's scheduled send time); in `session` mode also saturation
 *    on used tickets (every answer `duplicate`). Each saturation phase reports
 *    its ratio to pgbench -N -c 32 and the CPU per scan of each process
 *    (server, PostgreSQL — this database's backends and the shared background
 *    processes —, the load generator), and the statements the server sent to
 *    PostgreSQL per scan (counted in its pg driver: the round trips).
 * 5. The embedded default (PGlite): 20,000 tickets per event, both modes.
 * 6. A markdown table on stdout, JSON in bench/results/online-<timestamp>.json.
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
 * BENCH_SERVER_NODE_ARGS, extra node options for the server children (e.g. --trace-gc);
 * BENCH_LOG_LEVEL, the servers' LOG_LEVEL (default info, the production default; their lines are counted
 * per scan and dropped, warnings and errors printed);
 * REDIS_URL for --instances (default redis://127.0.0.1:6379); BENCH_SERVER_PG_SOCKET, a folder: the servers reach
 * PostgreSQL through its Unix socket there instead of TCP (a diagnostic; pgbench stays on TCP).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import {
  Api,
  bulkCreateTickets,
  createBenchEvent,
  registerScanners,
  scanOnce,
  type BenchDevice,
  type BenchEvent,
  type BulkCreateResult,
  type ScanPlace,
} from './lib/api.ts';
import { createRunControl, round, waitQuiet } from './lib/run-control.ts';
import { machineBusyNow, measureCpu, pidGroup, type CpuUsage, type ProcessGroup } from './lib/cpu.ts';
import { summarizeCpuProfile, type ProfileSummary } from './lib/cpuprofile.ts';
import { fmtMs } from './lib/latency.ts';
import { closedLoop, openLoop, type OpenLoopResult, type PhaseResult } from './lib/load.ts';
import { codeFingerprint, machineInfo } from './lib/machine.ts';
import { postgresGroupFor } from './lib/pg-processes.ts';
import { pgbenchCeiling, type PgbenchResult } from './lib/pgbench.ts';
import {
  ADMIN_URL,
  analyze,
  appliedMigrations,
  checkpoint,
  createScratchDatabase,
  indexStats,
  sampleActivity,
  serverSettings,
  serverVersion,
  tableStats,
  writeCounters,
  type ActivitySummary,
} from './lib/postgres.ts';
import { fmtInt, markdownTable, pass, RESULTS_DIR, saveJson, timestamp } from './lib/report.ts';
import { spawnServer, type QueryCount, type ServerProcess } from './lib/spawn-server.ts';

const OPTIONS = ['--quick', '--profile', '--skip-pgbench', '--skip-pglite', '--wait-quiet', '--analyze'];
const USAGE = `usage: node --import tsx bench/online-scan.ts ${OPTIONS.map((o) => `[${o}]`).join(' ')} [--instances=<1..4>]`;
const args = new Set<string>();
let instances = 1;
for (const a of process.argv.slice(2)) {
  const n = /^--instances=([1-4])$/.exec(a);
  if (n) instances = Number(n[1]);
  else if (OPTIONS.includes(a)) args.add(a);
  else {
    console.error(`unknown option ${a}\n${USAGE}`);
    process.exit(2);
  }
}
const QUICK = args.has('--quick');
const PROFILE = args.has('--profile');
const ANALYZE = args.has('--analyze');
const SERVER_NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'info';

type Mode = 'session' | 'no-session';
const MODES: readonly Mode[] = ['session', 'no-session'];

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
      tickets: 40_000,
      perCall: 10_000,
      devices: 32,
      gates: 4,
      warmup: { ms: 1_500, maxTickets: 4_000 },
      serialMs: 1_000,
      saturationMs: 5_000,
      duplicateMs: 3_000,
      fixed: { rate: 1_000, ms: 5_000 },
      pglite: { tickets: 20_000, perCall: 10_000, warmupMs: 1_000, serialMs: 1_000, saturationMs: 4_000 },
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
      devices: 32,
      gates: 4,
      warmup: { ms: 3_000, maxTickets: 8_000 },
      serialMs: 2_000,
      saturationMs: 15_000,
      duplicateMs: 10_000,
      fixed: { rate: 1_000, ms: 15_000 },
      pglite: { tickets: 20_000, perCall: 10_000, warmupMs: 2_000, serialMs: 2_000, saturationMs: 8_000 },
      watchdogMs: 12 * 60_000,
    };

/** Issue 15's targets. */
const TARGETS = {
  ceilingRatio: 0.6,
  serverCpuUs: 120,
  postgresCpuUs: 200,
  bulkCreateMs: 10_000,
  fixedP99Ms: 5,
  pgliteScansPerS: 2_000,
};

const control = createRunControl({ watchdogMs: CFG.watchdogMs });
const { log, cleanups } = control;

// ---- helpers ---------------------------------------------------------------------------------------------
/** The servers under test: one, or several instances of one installation (devices spread over them). */
interface Servers {
  list: ServerProcess[];
  group: ProcessGroup;
}

interface Instrumented<T> {
  phase: T;
  cpu: CpuUsage;
  activity?: ActivitySummary;
  /** Each process group's CPU per successful scan, µs. */
  cpuPerScanUs: Record<string, number>;
  /** Lines the servers logged per request. */
  logLinesPerScan: number;
  /** Statements the servers sent to PostgreSQL per request, in all and by statement (PostgreSQL only). */
  statementsPerScan?: { total: number; byStatement: Record<string, number> };
  /** PostgreSQL only, cluster-wide: write transactions per second and WAL bytes per write transaction. */
  writeTxPerS?: number;
  walBytesPerWriteTx?: number | null;
}

/**
 * Runs a phase while measuring CPU per process group and (PostgreSQL) connection states, write transactions and
 * the servers' statements.
 */
async function instrumented<T extends PhaseResult>(
  servers: Servers,
  pg: { database: string } | null,
  run: () => Promise<T>,
): Promise<Instrumented<T>> {
  const before = pg ? await writeCounters(ADMIN_URL) : null;
  if (pg) for (const s of servers.list) await s.startQueryCount();
  const groups: Record<string, ProcessGroup> = { server: servers.group, loadgen: pidGroup(process.pid) };
  if (servers.list.length > 1)
    servers.list.forEach((s, i) => {
      groups[`server ${i + 1}`] = pidGroup(s.pid);
    });
  if (pg) groups.postgres = postgresGroupFor(pg.database);
  const cpu = measureCpu(groups);
  const activity = pg ? sampleActivity(ADMIN_URL, pg.database, 50) : null;
  const linesBefore = serverOutput.lines;
  const phase = await run();
  const usage = cpu.stop();
  const sent = sentRequests(phase);
  const logLinesPerScan = round((serverOutput.lines - linesBefore) / Math.max(1, sent), 3);
  const counts: QueryCount[] = [];
  if (pg) for (const s of servers.list) counts.push(await s.stopQueryCount());
  const after = pg ? await writeCounters(ADMIN_URL) : null;
  const act = activity ? await activity.stop() : undefined;
  const cpuPerScanUs = Object.fromEntries(
    Object.entries(usage.groups).map(([k, cores]) => [k, Math.round((cores / Math.max(1e-9, phase.throughput)) * 1e6)]),
  );
  const out: Instrumented<T> = { phase, cpu: usage, cpuPerScanUs, logLinesPerScan, ...(act ? { activity: act } : {}) };
  if (pg) {
    const byStatement: Record<string, number> = {};
    let total = 0;
    for (const c of counts) {
      total += c.total;
      for (const [k, n] of Object.entries(c.byStatement)) byStatement[k] = (byStatement[k] ?? 0) + n;
    }
    const per = (n: number): number => round(n / Math.max(1, sent), 3);
    // Statements below one per hundred scans are the background jobs (fleet, alerts, webhooks...): summed as one.
    const sorted = Object.entries(byStatement).sort((a, b) => b[1] - a[1]);
    const scanPath = sorted.filter(([, n]) => per(n) >= 0.01);
    const background = sorted.filter(([, n]) => per(n) < 0.01).reduce((a, [, n]) => a + n, 0);
    out.statementsPerScan = {
      total: per(total),
      byStatement: Object.fromEntries([
        ...scanPath.map(([k, n]) => [k, per(n)] as const),
        ...(background > 0 ? [['(background, each < 0.01)', per(background)] as const] : []),
      ]),
    };
  }
  if (before && after) {
    const tx = after.nextXid - before.nextXid;
    out.writeTxPerS = tx / phase.durationS;
    out.walBytesPerWriteTx = tx > 0 ? Math.round((after.walBytes - before.walBytes) / tx) : null;
  }
  return out;
}

/** Requests actually sent (an open loop that stopped early counts the ones it did not send as errors). */
function sentRequests(p: PhaseResult): number {
  return Object.entries(p.outcomes)
    .filter(([label]) => !label.startsWith('not sent'))
    .reduce((a, [, n]) => a + n, 0);
}

function describePhase(p: PhaseResult): string {
  const l = p.latencyMs;
  const errs = p.errors > 0 ? `, ${p.errors} ERRORS ${JSON.stringify(p.outcomes)}` : '';
  return `${fmtInt(p.ok)} ok in ${p.durationS.toFixed(1)} s = ${fmtInt(p.throughput)}/s, p50 ${fmtMs(l.p50)} ms, p99 ${fmtMs(l.p99)} ms, max ${fmtMs(l.max)} ms${p.exhausted ? ' (ran out of tickets)' : ''}${errs}`;
}

function describeCpu(c: CpuUsage): string {
  const g = Object.entries(c.groups)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
  return `CPU (cores of ${c.cores}): ${g}, other ${c.other.toFixed(2)}, machine busy ${c.machineBusy.toFixed(2)}${c.steal > 0.005 ? `, stolen by the hypervisor ${c.steal.toFixed(2)}` : ''}`;
}

function describePerScan(i: Instrumented<PhaseResult>): string {
  const cpu = Object.entries(i.cpuPerScanUs)
    .map(([k, v]) => `${k} ${v} µs`)
    .join(', ');
  const st = i.statementsPerScan;
  return `CPU per scan: ${cpu}; log lines per scan ${i.logLinesPerScan}${
    st
      ? `; statements per scan ${st.total} (${Object.entries(st.byStatement)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')})`
      : ''
  }`;
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
  get used(): number {
    return this.next;
  }
  get size(): number {
    return this.codes.length;
  }
}

interface ModeResult {
  mode: Mode;
  profiles: Record<string, string>;
  warmup: PhaseResult;
  serial: PhaseResult | null;
  saturation: Instrumented<PhaseResult>;
  duplicate: Instrumented<PhaseResult> | null;
  fixedRate: Instrumented<OpenLoopResult> | null;
}

/** A device, the HTTP pool of the instance it talks to, and where it scans without a session. */
interface Scanner {
  d: BenchDevice;
  pool: Pool;
  place: ScanPlace | undefined;
}

async function scanPhases(opts: {
  label: string;
  mode: Mode;
  servers: Servers;
  pg: { database: string; url: string } | null;
  scanners: Scanner[];
  codes: string[];
  warmupMs: number;
  warmupTickets: number;
  saturationMs: number;
  duplicateMs: number | null;
  fixed: { rate: number; ms: number } | null;
  /** Duration of a one-request-at-a-time phase before saturation (0: none). */
  serialMs: number;
  /** CPU-profile the servers during the saturation phases, into this folder. */
  profileDir?: string | null;
}): Promise<ModeResult> {
  const name = `${opts.label} ${opts.mode}`;
  const source = new TicketSource(opts.codes);
  const scanners = opts.scanners;
  // One request in flight per device: a steward waits for the verdict before the next scan.
  const concurrency = scanners.length;
  const scan = (s: Scanner, code: string): Promise<string> => scanOnce(s.pool, s.d, code, s.place);
  // Tickets kept back for the fixed-rate phase (plus 2% for timer catch-up).
  const fixedBudget = opts.fixed ? Math.ceil(opts.fixed.rate * (opts.fixed.ms / 1000) * 1.02) + 100 : 0;
  const saturationLimit = source.size - fixedBudget;
  const admitted: Array<{ s: Scanner; code: string }> = [];

  // Warm-up: JIT, connection pools, and (no session) the ticket cache loading on the first scans.
  log(`${name}: warm-up ${opts.warmupMs / 1000} s`);
  const warmLimit = Math.min(opts.warmupTickets, saturationLimit);
  const warmup = await closedLoop<{ s: Scanner; code: string }>({
    name: 'warm-up',
    concurrency,
    durationMs: opts.warmupMs,
    expect: 'valid',
    next: (w) => {
      const code = source.take(warmLimit);
      return code === undefined ? undefined : { s: scanners[w]!, code };
    },
    run: (j) => scan(j.s, j.code),
  });
  log(`${name}: warm-up ${describePhase(warmup)}`);
  if (opts.pg && ANALYZE) {
    await analyze(opts.pg.url);
    log(`${name}: --analyze: ANALYZE done, cached plans will be rebuilt`);
  }
  if (opts.pg) await checkpoint();

  const profiles: Record<string, string> = {};
  const profiled = async <T>(phase: string, fn: () => Promise<T>): Promise<T> => {
    if (!opts.profileDir) return fn();
    const server = opts.servers.list[0]!;
    const file = path.join(opts.profileDir, `${opts.label}-${opts.mode}-${phase}.cpuprofile`);
    await server.startProfile();
    try {
      return await fn();
    } finally {
      await server.stopProfile(file);
      profiles[phase] = file;
    }
  };

  // One scan at a time from one device: the latency of a scan with no queueing anywhere.
  let serial: PhaseResult | null = null;
  if (opts.serialMs) {
    const first = scanners[0]!;
    const limit = Math.min(saturationLimit, source.used + 5_000);
    serial = await closedLoop<string>({
      name: 'one at a time',
      concurrency: 1,
      durationMs: opts.serialMs,
      expect: 'valid',
      next: () => source.take(limit),
      run: (code) => scan(first, code),
    });
    log(`${name}: one scan at a time ${describePhase(serial)}`);
  }

  log(
    `${name}: saturation, ${concurrency} devices with one scan in flight each, ${opts.saturationMs / 1000} s, fresh tickets (expect valid)`,
  );
  const saturation = await instrumented(opts.servers, opts.pg, () =>
    profiled('valid', () =>
      closedLoop<{ s: Scanner; code: string }>({
        name: 'saturation (valid)',
        concurrency,
        durationMs: opts.saturationMs,
        expect: 'valid',
        next: (w) => {
          const code = source.take(saturationLimit);
          return code === undefined ? undefined : { s: scanners[w]!, code };
        },
        run: async (j) => {
          const label = await scan(j.s, j.code);
          if (label === 'valid') admitted.push(j);
          return label;
        },
      }),
    ),
  );
  log(`${name}: saturation ${describePhase(saturation.phase)}`);
  log(`${name}: ${describeCpu(saturation.cpu)}`);
  log(`${name}: ${describePerScan(saturation)}`);
  if (saturation.activity)
    log(
      `${name}: server's PostgreSQL connections (average per sample): ${JSON.stringify(saturation.activity.averageConnections)}`,
    );

  let duplicate: Instrumented<PhaseResult> | null = null;
  if (opts.duplicateMs !== null && admitted.length > 0) {
    log(`${name}: saturation on used tickets, ${opts.duplicateMs / 1000} s (expect duplicate)`);
    let i = 0;
    duplicate = await instrumented(opts.servers, opts.pg, () =>
      profiled('duplicate', () =>
        closedLoop<{ s: Scanner; code: string }>({
          name: 'saturation (duplicate)',
          concurrency,
          durationMs: opts.duplicateMs!,
          expect: 'duplicate',
          // Another device than the one that admitted it (most of the time): "already used", the rejection insert path.
          next: (w) => ({ s: scanners[(w + 7) % scanners.length]!, code: admitted[i++ % admitted.length]!.code }),
          run: (j) => scan(j.s, j.code),
        }),
      ),
    );
    log(`${name}: duplicates ${describePhase(duplicate.phase)}`);
    log(`${name}: ${describeCpu(duplicate.cpu)}`);
    log(`${name}: ${describePerScan(duplicate)}`);
  }

  let fixedRate: Instrumented<OpenLoopResult> | null = null;
  if (opts.fixed) {
    const { rate, ms } = opts.fixed;
    log(`${name}: fixed rate ${rate}/s for ${ms / 1000} s, fresh tickets (open loop)`);
    fixedRate = await instrumented(opts.servers, opts.pg, () =>
      openLoop<{ s: Scanner; code: string }>({
        name: `fixed rate ${rate}/s`,
        rate,
        durationMs: ms,
        expect: 'valid',
        next: (i) => {
          const code = source.take(source.size);
          return code === undefined ? undefined : { s: scanners[i % scanners.length]!, code };
        },
        run: (j) => scan(j.s, j.code),
      }),
    );
    const f = fixedRate.phase;
    log(
      `${name}: fixed rate ${describePhase(f)}; from scheduled time p90 ${fmtMs(f.latencyMs.p90)} ms; service time p50 ${fmtMs(f.serviceLatencyMs.p50)} / p99 ${fmtMs(f.serviceLatencyMs.p99)} ms; send lag p50 ${fmtMs(f.sendLagMs.p50)} / p99 ${fmtMs(f.sendLagMs.p99)} ms`,
    );
    log(`${name}: ${describePerScan(fixedRate)}`);
    if (f.slow.dueAtMs.length > 0)
      log(
        `${name}: replies slower than ${f.slow.thresholdMs} ms: ${f.slow.dueAtMs.length}, in stalls starting at ${stalls(
          f.slow.dueAtMs,
        )
          .map((t) => `${(t / 1000).toFixed(2)} s`)
          .join(', ')} into the phase`,
      );
  }
  return { mode: opts.mode, profiles, warmup, serial, saturation, duplicate, fixedRate };
}

interface Installation {
  servers: Servers;
  api: Api;
  /** Per mode: its event's ticket codes and the scanners (device, pool, place). */
  modes: Record<Mode, { event: BenchEvent; bulk: BulkCreateResult; scanners: Scanner[] }>;
  setupMs: { events: number; devices: number };
  close(): Promise<void>;
}

/**
 * Two events with `tickets` each; `devices` devices, each with a scan session at the first event's gates and
 * none at the second's; each device talks to one instance (round robin) over a keep-alive connection of its own.
 */
async function setUp(
  label: string,
  servers: Servers,
  tickets: number,
  perCall: number,
  deviceCount: number,
  gates: number,
): Promise<Installation> {
  const first = servers.list[0]!;
  const api = new Api(first.url, { connections: 4 });
  cleanups.push(() => api.close().catch(() => undefined));
  let t = Date.now();
  const withSessions = await createBenchEvent(api, first.adminToken, gates);
  const withoutSessions = await createBenchEvent(api, first.adminToken, gates);
  const eventsMs = Date.now() - t;
  log(`${label}: bulk-creating ${fmtInt(tickets)} tickets per event in calls of ${fmtInt(perCall)}`);
  const bulkSession = await bulkCreateTickets(api, first.adminToken, withSessions, tickets, perCall);
  log(
    `${label}: bulk create ${(bulkSession.totalMs / 1000).toFixed(2)} s (calls: ${bulkSession.callMs.map((m) => (m / 1000).toFixed(2)).join(', ')} s)`,
  );
  const bulkNoSession = await bulkCreateTickets(api, first.adminToken, withoutSessions, tickets, perCall);
  t = Date.now();
  const devices = await registerScanners(api, first.adminToken, withSessions, deviceCount);
  const devicesMs = Date.now() - t;
  log(
    `${label}: ${deviceCount} devices registered, each with a scan session at the first event (${devicesMs} ms); none at the second`,
  );
  const pools = servers.list.map(
    (s) =>
      new Pool(s.url, {
        connections: Math.ceil(deviceCount / servers.list.length),
        pipelining: 1,
        keepAliveTimeout: 30_000,
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      }),
  );
  for (const p of pools) cleanups.push(() => p.destroy().catch(() => undefined));
  const scanners = (place: (i: number) => ScanPlace | undefined): Scanner[] =>
    devices.map((d, i) => ({ d, pool: pools[i % pools.length]!, place: place(i) }));
  return {
    servers,
    api,
    modes: {
      session: { event: withSessions, bulk: bulkSession, scanners: scanners(() => undefined) },
      'no-session': {
        event: withoutSessions,
        bulk: bulkNoSession,
        scanners: scanners((i) => ({
          eventId: withoutSessions.eventId,
          gateId: withoutSessions.gateIds[i % withoutSessions.gateIds.length]!,
        })),
      },
    },
    setupMs: { events: eventsMs, devices: devicesMs },
    // Replies still owed (an overloaded phase) are dropped rather than waited for.
    async close() {
      await api.close();
      await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
    },
  };
}

function bulkSummary(b: BulkCreateResult): {
  tickets: number;
  totalS: number;
  perCallS: number[];
  ticketsPerS: number;
} {
  return {
    tickets: b.codes.length,
    totalS: round(b.totalMs / 1000, 3),
    perCallS: b.callMs.map((m) => round(m / 1000, 3)),
    ticketsPerS: Math.round(b.codes.length / (b.totalMs / 1000)),
  };
}

/**
 * The servers' DATABASE_URL: the scratch database over TCP as pgbench reaches it, or with BENCH_SERVER_PG_SOCKET
 * (a folder, e.g. /var/run/postgresql) through PostgreSQL's Unix socket — a diagnostic: a co-located database
 * spares the loopback TCP stack on both sides.
 */
function serverDatabaseUrl(url: string): string {
  const socket = process.env.BENCH_SERVER_PG_SOCKET;
  if (!socket) return url;
  const u = new URL(url);
  // The host in the URL is a placeholder: the driver takes the `host` parameter, a folder, as the socket.
  return `postgres://${u.username}@localhost${u.pathname}?host=${encodeURIComponent(socket)}`;
}

/** Lines the servers wrote (their logs), to count log lines per scan. */
const serverOutput = { lines: 0 };

/** Prints a server's warnings and errors (pino level ≥ 40) and anything not JSON; counts every line. */
function onServerOutput(line: string): void {
  serverOutput.lines++;
  if (line.startsWith('{')) {
    try {
      if ((JSON.parse(line) as { level?: number }).level! < 40) return;
    } catch {
      // Not a log line: print it.
    }
  }
  process.stderr.write(`[server] ${line}\n`);
}

/**
 * Instances of one installation: the same secret and admin token, Redis fan-out when there are several, logging
 * at LOG_LEVEL (BENCH_LOG_LEVEL, default `info`, the production default: what a deployment writes is measured).
 */
async function startServers(opts: { databaseUrl?: string; dataDir?: string; count: number }): Promise<Servers> {
  const shared = {
    secret: randomBytes(32).toString('base64url'),
    adminToken: `eat_bench_${randomBytes(24).toString('base64url')}`,
  };
  const env: Record<string, string> = {
    LOG_LEVEL: LOG_LEVEL,
    ...(opts.count > 1 ? { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' } : {}),
  };
  const list: ServerProcess[] = [];
  for (let i = 0; i < opts.count; i++) {
    const server = await spawnServer({ ...opts, nodeArgs: SERVER_NODE_ARGS, ...shared, env, onOutput: onServerOutput });
    cleanups.push(() => server.stop());
    list.push(server);
  }
  return { list, group: pidGroup(...list.map((s) => s.pid)) };
}

// ---- the run -----------------------------------------------------------------------------------------------
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
    ? await waitQuiet({ maxMs: 180_000, sampleMs: 2_000, consecutive: 3, log })
    : await machineBusyNow(1_000);
  control.armWatchdog();
  log(
    `online-scan benchmark${QUICK ? ' (--quick)' : ''}: ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, PostgreSQL ${pgVersion}`,
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
  const ceilingRun = pgbench?.runs.find((r) => r.clients === 32) ?? pgbench?.runs.at(-1) ?? null;
  const ceiling = ceilingRun?.tps ?? null;

  // 2-4. Entrada on PostgreSQL
  const db = await createScratchDatabase('entrada_bench_online');
  cleanups.push(() => db.drop());
  let profileDir: string | null = null;
  if (PROFILE) {
    profileDir = path.join(RESULTS_DIR, `profile-${timestamp(startedAt)}`);
    log(`--profile: the server writes a CPU profile to ${profileDir}`);
  }
  if (profileDir) await mkdir(profileDir, { recursive: true });
  const pgServers = await startServers({ databaseUrl: serverDatabaseUrl(db.url), count: instances });
  log(
    `Entrada on PostgreSQL (database ${db.name}): ${pgServers.list.map((s) => `${s.url} pid ${s.pid}`).join(', ')}${instances > 1 ? ' (Redis fan-out)' : ''}`,
  );
  const pgSetup = await setUp('postgres', pgServers, CFG.tickets, CFG.perCall, CFG.devices, CFG.gates);
  const pgModes = {} as Record<Mode, ModeResult>;
  for (const mode of MODES) {
    const m = pgSetup.modes[mode];
    pgModes[mode] = await scanPhases({
      label: 'postgres',
      mode,
      servers: pgServers,
      pg: { database: db.name, url: db.url },
      scanners: m.scanners,
      codes: m.bulk.codes,
      warmupMs: CFG.warmup.ms,
      warmupTickets: CFG.warmup.maxTickets,
      saturationMs: CFG.saturationMs,
      duplicateMs: mode === 'session' ? CFG.duplicateMs : null,
      fixed: CFG.fixed,
      serialMs: CFG.serialMs,
      profileDir,
    });
  }
  const pgTables = await tableStats(db.url, ['tickets', 'scans']);
  for (const t of pgTables) {
    log(
      `table ${t.table}: ${fmtInt(t.inserts)} inserts, ${fmtInt(t.updates)} updates of which ${fmtInt(t.hotUpdates)} HOT, ${t.indexes} indexes, ` +
        `${(t.totalBytes / 2 ** 20).toFixed(1)} MiB; last autoanalyze ${t.lastAutoanalyze ?? 'never'}`,
    );
  }
  const migrations = await appliedMigrations(db.url);
  const allScanIndexes = await indexStats(db.url, ['scans']);
  const scanIndexes = allScanIndexes.filter((i) => i.scans > 0);
  log(
    `scans indexes used (scans / entries read): ${scanIndexes.map((i) => `${i.index} ${fmtInt(i.scans)} / ${fmtInt(i.entriesRead)}`).join(', ')}`,
  );
  // Bytes per stored scan of each index: a key inserted at random places splits pages half full, an increasing one fills them.
  const scanRows = pgTables.find((t) => t.table === 'scans')?.inserts ?? 0;
  const indexBytesPerScan = allScanIndexes.map((i) => ({
    index: i.index,
    bytesPerScan: scanRows > 0 ? Math.round(i.sizeBytes / scanRows) : null,
  }));
  log(
    `scans indexes, bytes per stored scan (${fmtInt(scanRows)} scans): ${indexBytesPerScan.map((i) => `${i.index} ${i.bytesPerScan ?? '?'}`).join(', ')}`,
  );
  await pgSetup.close();
  for (const s of pgServers.list) await s.stop();
  await db.drop();
  const profile: Record<string, ProfileSummary> = {};
  for (const mode of MODES) {
    for (const [phase, file] of Object.entries(pgModes[mode].profiles)) {
      const summary = await summarizeCpuProfile(file, 30, [
        'scan',
        'device',
        'query',
        'answer',
        'resolveWhere',
        'admitIfUnchanged',
        'rejectIfUnchanged',
      ]);
      profile[`${mode}-${phase}`] = summary;
      log(`server CPU profile, ${mode} ${phase}: ${file} (busy ${summary.busyMs} ms); self time by origin:`);
      for (const o of summary.byOrigin.slice(0, 12)) log(`  ${o.pct.toFixed(1).padStart(5)}%  ${o.origin}`);
    }
  }

  // 5. Embedded default: PGlite (one instance: it is an in-process database)
  let pglite: {
    bulk: ReturnType<typeof bulkSummary>;
    modes: Record<Mode, { warmup: PhaseResult; serial: PhaseResult | null; saturation: Instrumented<PhaseResult> }>;
  } | null = null;
  if (!args.has('--skip-pglite')) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'entrada-bench-pglite-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const liteServers = await startServers({ dataDir, count: 1 });
    log(`Entrada on PGlite (${dataDir}) listening at ${liteServers.list[0]!.url}, pid ${liteServers.list[0]!.pid}`);
    const liteSetup = await setUp(
      'pglite',
      liteServers,
      CFG.pglite.tickets,
      CFG.pglite.perCall,
      CFG.devices,
      CFG.gates,
    );
    const modes = {} as Record<
      Mode,
      { warmup: PhaseResult; serial: PhaseResult | null; saturation: Instrumented<PhaseResult> }
    >;
    for (const mode of MODES) {
      const m = liteSetup.modes[mode];
      const r = await scanPhases({
        label: 'pglite',
        mode,
        servers: liteServers,
        pg: null,
        scanners: m.scanners,
        codes: m.bulk.codes,
        warmupMs: CFG.pglite.warmupMs,
        warmupTickets: 2_000,
        saturationMs: CFG.pglite.saturationMs,
        duplicateMs: null,
        fixed: null,
        serialMs: CFG.pglite.serialMs,
        profileDir,
      });
      modes[mode] = { warmup: r.warmup, serial: r.serial, saturation: r.saturation };
      for (const [phase, file] of Object.entries(r.profiles)) {
        const summary = await summarizeCpuProfile(file, 30, ['scan', 'device', 'query', 'answer']);
        profile[`pglite-${mode}-${phase}`] = summary;
        log(`PGlite server CPU profile, ${mode} ${phase}: ${file}; self time by origin:`);
        for (const o of summary.byOrigin.slice(0, 10)) log(`  ${o.pct.toFixed(1).padStart(5)}%  ${o.origin}`);
      }
    }
    pglite = { bulk: bulkSummary(liteSetup.modes.session.bulk), modes };
    await liteSetup.close();
    await liteServers.list[0]!.stop();
    await rm(dataDir, { recursive: true, force: true });
  }

  // 6. Report
  const bulk = bulkSummary(pgSetup.modes.session.bulk);
  const ratioOf = (p: PhaseResult): number | null => (ceiling ? p.throughput / ceiling : null);
  const pct = (r: number | null): string => (r === null ? 'n/a' : `${(r * 100).toFixed(0)}%`);
  // Wrong or failed answers; requests an open loop did not send once it fell behind are reported with its phase.
  const wrong = (p: PhaseResult | null | undefined): number => (p ? sentRequests(p) - p.ok : 0);
  let totalErrors = 0;
  for (const m of Object.values(pgModes)) {
    totalErrors +=
      wrong(m.warmup) +
      wrong(m.serial) +
      wrong(m.saturation.phase) +
      wrong(m.duplicate?.phase) +
      wrong(m.fixedRate?.phase);
  }
  for (const m of Object.values(pglite?.modes ?? {}))
    totalErrors += wrong(m.warmup) + wrong(m.serial) + wrong(m.saturation.phase);

  const targets: Array<{ target: string; value: string; ok: boolean | null }> = [];
  for (const mode of MODES) {
    const m = pgModes[mode];
    const r = ratioOf(m.saturation.phase);
    const cpu = m.saturation.cpuPerScanUs;
    const f = m.fixedRate?.phase ?? null;
    targets.push(
      {
        target: `${mode}: saturation ≥ ${TARGETS.ceilingRatio} × pgbench -N -c 32`,
        value: r === null ? 'n/a' : `${r.toFixed(2)} ×`,
        ok: r === null ? null : r >= TARGETS.ceilingRatio,
      },
      {
        target: `${mode}: server CPU per scan ≤ ${TARGETS.serverCpuUs} µs`,
        value: `${cpu.server} µs`,
        ok: cpu.server! <= TARGETS.serverCpuUs,
      },
      {
        target: `${mode}: PostgreSQL CPU per scan ≤ ${TARGETS.postgresCpuUs} µs`,
        value: `${cpu.postgres} µs`,
        ok: cpu.postgres! <= TARGETS.postgresCpuUs,
      },
      {
        target: `${mode}: p99 ≤ ${TARGETS.fixedP99Ms} ms at ${fmtInt(CFG.fixed.rate)} scans/s`,
        value: f ? `${fmtMs(f.latencyMs.p99)} ms` : 'n/a',
        ok: f ? f.latencyMs.p99 <= TARGETS.fixedP99Ms : null,
      },
    );
  }
  targets.push({
    target: `bulk create ${fmtInt(CFG.tickets)} tickets ≤ ${TARGETS.bulkCreateMs / 1000} s`,
    value: `${bulk.totalS.toFixed(2)} s`,
    ok: QUICK ? null : bulk.totalS * 1000 <= TARGETS.bulkCreateMs,
  });
  for (const mode of MODES) {
    const lite = pglite?.modes[mode].saturation.phase;
    targets.push({
      target: `PGlite ${mode}: saturation ≥ ${fmtInt(TARGETS.pgliteScansPerS)} scans/s`,
      value: lite ? `${fmtInt(lite.throughput)}/s` : 'n/a',
      ok: lite ? lite.throughput >= TARGETS.pgliteScansPerS : null,
    });
  }
  targets.push({
    target: 'every scan sent answered 200 with the expected result',
    value: `${totalErrors} errors`,
    ok: totalErrors === 0,
  });

  const rows: Array<Array<string | number>> = [];
  if (pgbench) {
    for (const r of pgbench.runs)
      rows.push([
        `pgbench -N -c ${r.clients} -j ${r.threads} -T ${r.durationS} (scale ${pgbench.scale})`,
        `${fmtInt(r.tps)} tps`,
        `latency avg ${r.latencyAvgMs ?? '?'} ms`,
      ]);
    const c = pgbench.commitLatencyMs;
    rows.push([
      'one durable single-row commit at a time (latency floor)',
      `p50 ${fmtMs(c.p50)} ms`,
      `p90 ${fmtMs(c.p90)} / p99 ${fmtMs(c.p99)} ms over ${fmtInt(c.count)} commits`,
    ]);
  }
  rows.push([
    `bulk create ${fmtInt(bulk.tickets)} tickets (${bulk.perCallS.length} calls)`,
    `${bulk.totalS.toFixed(2)} s`,
    `${fmtInt(bulk.ticketsPerS)} tickets/s; per call ${bulk.perCallS.map((s) => s.toFixed(2)).join(', ')} s`,
  ]);
  const phaseRow = (name: string, p: PhaseResult, extra = ''): Array<string | number> => [
    name,
    `${fmtInt(p.throughput)} scans/s`,
    `p50 ${fmtMs(p.latencyMs.p50)} / p99 ${fmtMs(p.latencyMs.p99)} / max ${fmtMs(p.latencyMs.max)} ms; ${fmtInt(p.ok)} ok, ${p.errors} errors in ${p.durationS.toFixed(1)} s${p.exhausted ? ' (ran out of tickets)' : ''}${extra}`,
  ];
  const perScanRow = (name: string, i: Instrumented<PhaseResult>): Array<string | number> => [
    name,
    Object.entries(i.cpuPerScanUs)
      .map(([k, v]) => `${k} ${v}`)
      .join(' / ') + ' µs',
    `${i.cpu.machineBusy.toFixed(2)} of ${i.cpu.cores} cores busy (${Object.entries(i.cpu.groups)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(
        ', ',
      )}, other ${i.cpu.other.toFixed(2)}, steal ${i.cpu.steal.toFixed(2)}); log lines per scan ${i.logLinesPerScan}` +
      (i.statementsPerScan
        ? `; statements per scan ${i.statementsPerScan.total}: ${Object.entries(i.statementsPerScan.byStatement)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`
        : ''),
  ];
  const servers = instances > 1 ? `${instances} instances, ` : '';
  for (const mode of MODES) {
    const m = pgModes[mode];
    if (m.serial) rows.push(phaseRow(`PostgreSQL ${mode}: one scan at a time (no queueing)`, m.serial));
    rows.push(
      phaseRow(
        `**PostgreSQL ${mode}: saturation, ${servers}${CFG.devices} devices (valid)**`,
        m.saturation.phase,
        `; **${pct(ratioOf(m.saturation.phase))} of pgbench -c 32**`,
      ),
    );
    rows.push(perScanRow(`CPU per valid scan (${mode})`, m.saturation));
    if (m.duplicate) {
      rows.push(phaseRow(`PostgreSQL ${mode}: saturation (duplicate)`, m.duplicate.phase));
      rows.push(perScanRow(`CPU per duplicate scan (${mode})`, m.duplicate));
    }
    const f = m.fixedRate?.phase;
    if (f && m.fixedRate) {
      rows.push([
        `PostgreSQL ${mode}: fixed rate ${fmtInt(f.targetRate)}/s (open loop)`,
        `${fmtInt(f.throughput)} scans/s`,
        `from scheduled time: p50 ${fmtMs(f.latencyMs.p50)} / p90 ${fmtMs(f.latencyMs.p90)} / p99 ${fmtMs(f.latencyMs.p99)} / max ${fmtMs(f.latencyMs.max)} ms; service time p50 ${fmtMs(f.serviceLatencyMs.p50)} / p99 ${fmtMs(f.serviceLatencyMs.p99)} ms; generator send lag p50 ${fmtMs(f.sendLagMs.p50)} / p99 ${fmtMs(f.sendLagMs.p99)} ms; ${f.slow.dueAtMs.length} replies > ${f.slow.thresholdMs} ms in ${stalls(f.slow.dueAtMs).length} stall(s); ${f.errors} errors${f.overloaded ? '; STOPPED EARLY: the server fell behind the schedule' : ''}`,
      ]);
      rows.push(perScanRow(`CPU per scan at ${fmtInt(f.targetRate)}/s (${mode})`, m.fixedRate));
    }
    for (const [what, ph] of [
      ['valid', m.saturation],
      ['duplicate', m.duplicate],
    ] as const) {
      if (ph?.writeTxPerS === undefined) continue;
      rows.push([
        `PostgreSQL write transactions during saturation (${mode}, ${what})`,
        `${fmtInt(ph.writeTxPerS)}/s`,
        `${fmtInt(ph.walBytesPerWriteTx ?? 0)} WAL bytes per transaction (cluster-wide counters)`,
      ]);
    }
    if (m.saturation.activity) {
      rows.push([
        `server pool connections during saturation (${mode})`,
        'avg per sample',
        Object.entries(m.saturation.activity.averageConnections)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      ]);
    }
  }
  const tk = pgTables.find((t) => t.table === 'tickets');
  if (tk) {
    rows.push([
      'tickets table after the run',
      `${fmtInt(tk.updates)} updates`,
      `${fmtInt(tk.hotUpdates)} HOT (${tk.updates ? ((tk.hotUpdates / tk.updates) * 100).toFixed(0) : 0}%); ${tk.indexes} indexes; a non-HOT update adds an entry to every index`,
    ]);
  }
  if (scanIndexes.length > 0) {
    rows.push([
      'indexes of `scans` used during the run',
      'uses / entries read',
      scanIndexes
        .map(
          (i) =>
            `${i.index} ${fmtInt(i.scans)} / ${fmtInt(i.entriesRead)}${i.scans > 0 && i.entriesRead / i.scans > 10 ? ` (${fmtInt(i.entriesRead / i.scans)} per use!)` : ''}`,
        )
        .join(', '),
    ]);
  }
  rows.push([
    'indexes of `scans`, bytes per stored scan',
    `${indexBytesPerScan.reduce((a, i) => a + (i.bytesPerScan ?? 0), 0)} in all`,
    indexBytesPerScan.map((i) => `${i.index} ${i.bytesPerScan ?? '?'}`).join(', '),
  ]);
  if (pglite) {
    rows.push([
      `PGlite bulk create ${fmtInt(pglite.bulk.tickets)} tickets`,
      `${pglite.bulk.totalS.toFixed(2)} s`,
      `per call ${pglite.bulk.perCallS.map((s) => s.toFixed(2)).join(', ')} s`,
    ]);
    for (const mode of MODES) {
      const m = pglite.modes[mode];
      if (m.serial) rows.push(phaseRow(`PGlite ${mode}: one scan at a time (no queueing)`, m.serial));
      rows.push(phaseRow(`**PGlite ${mode}: saturation, ${CFG.devices} devices (valid)**`, m.saturation.phase));
      rows.push(perScanRow(`CPU per valid scan, PGlite (${mode})`, m.saturation));
    }
  }

  const finishedAt = new Date();
  const header = [
    `## Online scanning benchmark${QUICK ? ' (--quick)' : ''}${PROFILE ? ' (server CPU-profiled: throughput understated)' : ''}${instances > 1 ? ` (${instances} API instances, Redis fan-out)` : ''}`,
    '',
    `${startedAt.toISOString()} · ${machine.cores} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB · Node ${machine.node} · PostgreSQL ${pgVersion} · ${machine.kernel}`,
    `Machine busy before start: ${busyBefore.toFixed(2)} cores. Load generator, server and PostgreSQL share these cores (loopback HTTP). Servers log at ${LOG_LEVEL}; they reach PostgreSQL over ${process.env.BENCH_SERVER_PG_SOCKET ? `its Unix socket in ${process.env.BENCH_SERVER_PG_SOCKET}` : 'TCP'}.`,
    `PostgreSQL settings: ${Object.entries(pgSettings)
      .filter(([k]) => ['synchronous_commit', 'fsync', 'autovacuum', 'shared_buffers'].includes(k))
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}.`,
    `Code: fingerprint ${code.sha256} (${code.files} files of packages/server and packages/core); migrations ${migrations.join(', ') || '?'}${ANALYZE ? '; --analyze: ANALYZE after warm-up' : ''}.`,
    '',
  ].join('\n');
  const table = markdownTable(['measure', 'figure', 'detail'], rows);
  const targetTable = markdownTable(
    ['target (issue 15)', 'measured', 'result'],
    targets.map((t) => [t.target, t.value, pass(t.ok)]),
  );
  console.log(`\n${header}${table}\n\n${targetTable}\n`);

  const file = await saveJson(`online-${timestamp(startedAt)}.json`, {
    benchmark: 'online-scan',
    mode: QUICK ? 'quick' : 'full',
    instances,
    profiled: PROFILE,
    command: `node --import tsx bench/online-scan.ts ${process.argv.slice(2).join(' ')}`.trim(),
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    runtimeS: round((finishedAt.getTime() - startedAt.getTime()) / 1000, 1),
    machine,
    machineBusyBeforeStart: busyBefore,
    code,
    analyzeAfterWarmup: ANALYZE,
    postgres: { version: pgVersion, settings: pgSettings },
    config: CFG,
    targetsConfig: TARGETS,
    pgbench,
    entradaPostgres: {
      bulkCreate: bulk,
      setupMs: pgSetup.setupMs,
      devices: CFG.devices,
      ceilingTps: ceiling,
      modes: Object.fromEntries(
        MODES.map((mode) => [mode, { ...pgModes[mode], ratioToCeiling: ratioOf(pgModes[mode].saturation.phase) }]),
      ),
      tables: pgTables,
      scanIndexes,
      indexBytesPerScan,
      migrations,
      serverProfiles: PROFILE ? profile : null,
    },
    entradaPglite: pglite,
    targets,
  });
  log(`results saved to ${file} (total ${control.elapsedS().toFixed(0)} s)`);
}

await control.run(main);
