/**
 * Live stream benchmark (issue 13 §1): does watching slow scanning down, and how late do dashboards learn?
 *
 *   node --import tsx bench/live-stream.ts [--quick] [--profile] [--dashboards N] [--rate N] [--rounds N]
 *   npm run bench:live -- --quick
 *
 * 1. An Entrada server on a fresh PostgreSQL database (BENCH_PG_URL), in a child process.
 * 2. Through the HTTP API: an event, tickets, 50 scanners with scan sessions (bench/lib/api.ts).
 * 3. Warm-up, then rounds of two phases of online scans at 1,000/s on fresh tickets (open loop, latency from
 *    the scheduled send time, bench/lib/load.ts): with no dashboard, then with 50 dashboards connected to the
 *    live stream (each its own connection, reading every message; in a process of their own, bench/lib/dashboards.ts,
 *    so their parsing does not stall the load generator's clock). Interleaved so that a machine whose load
 *    drifts (a shared one) weighs on both alike; the medians of the rounds' p99s are compared.
 * 4. Delivery delay: for every scan of every `scan` message on every dashboard, the time it arrived minus
 *    the time the server recorded the scan (`received_at`; same machine, same clock).
 * 5. A markdown table on stdout, JSON in bench/results/live-<timestamp>.json.
 *
 * Targets: scanning p99 with dashboards within 2 ms of p99 without; delivery delay p99 ≤ 1 s.
 * --profile: round 1's two phases run with the server's CPU profiled (files in bench/results/) and PostgreSQL's
 * connections sampled (pg_stat_activity), and both are summarised: where the time with dashboards goes. The
 * profiler costs throughput, so a profiled run's latencies are not the figures to report.
 * The database it creates is removed at the end.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { Api, bulkCreateTickets, createBenchEvent, registerScanners, scanOnce, type BenchDevice } from './lib/api.ts';
import { summarizeCpuProfile } from './lib/cpuprofile.ts';
import { openDashboards } from './lib/dashboards.ts';
import { LatencyRecorder, fmtMs } from './lib/latency.ts';
import { openLoop, type OpenLoopResult } from './lib/load.ts';
import { machineInfo } from './lib/machine.ts';
import { sampleQueries } from './lib/pg-queries.ts';
import { ADMIN_URL, createScratchDatabase, type ScratchDatabase } from './lib/postgres.ts';
import { RESULTS_DIR, fmtInt, markdownTable, pass, saveJson, timestamp } from './lib/report.ts';
import { spawnServer, type ServerProcess } from './lib/spawn-server.ts';

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const PROFILE = argv.includes('--profile');
const FLAGS = ['--quick', '--profile'];
const VALUED = ['--dashboards', '--rate', '--rounds'];
const option = (name: string, fallback: number): number => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const DASHBOARDS = option('--dashboards', 50);
const RATE = option('--rate', 1_000);
const ROUNDS = option('--rounds', QUICK ? 2 : 3);
if (
  ![DASHBOARDS, RATE, ROUNDS].every((n) => Number.isInteger(n) && n >= 1) ||
  argv.some(
    (a, i) => a.startsWith('--') && !FLAGS.includes(a) && !VALUED.includes(a) && !VALUED.includes(argv[i - 1] ?? ''),
  )
) {
  console.error(
    'usage: node --import tsx bench/live-stream.ts [--quick] [--profile] [--dashboards N] [--rate N] [--rounds N]',
  );
  process.exit(2);
}
const PHASE_MS = QUICK ? 5_000 : 15_000;
const WARM_MS = QUICK ? 5_000 : 10_000;
const TARGETS = { p99GapMs: 2, deliveryP99Ms: 1_000 };

const log = (m: string): void => console.error(`[live-bench] ${m}`);

/** --profile: the server's CPU profile and PostgreSQL's active statements during `fn`, summarised on stderr. */
async function profiled<T>(server: ServerProcess, db: ScratchDatabase, name: string, fn: () => Promise<T>): Promise<T> {
  const file = path.join(RESULTS_DIR, `live-profile-${timestamp()}-${name.replace(/[^a-z0-9]+/gi, '-')}.cpuprofile`);
  const queries = sampleQueries(ADMIN_URL, db.name);
  await server.startProfile();
  try {
    return await fn();
  } finally {
    await server.stopProfile(file);
    const pgActivity = await queries.stop();
    const cpu = await summarizeCpuProfile(file, 15);
    log(`profile of "${name}" (${file}): server busy ${fmtInt(cpu.busyMs)} of ${fmtInt(cpu.totalMs)} ms`);
    for (const o of cpu.byOrigin.slice(0, 12)) log(`  ${o.pct.toFixed(1).padStart(5)}%  ${o.origin}`);
    for (const f of cpu.topFunctions) log(`  ${f.pct.toFixed(1).padStart(5)}%  ${f.fn}  [${f.origin}]`);
    log(
      `  PostgreSQL connections by state (average of ${pgActivity.samples} samples): ${JSON.stringify(pgActivity.byState)}`,
    );
    for (const q of pgActivity.byStatement.slice(0, 10))
      log(`  ${q.share.toFixed(1).padStart(5)}%  ${q.avgConnections.toFixed(2)} conn  ${q.wait}  ${q.statement}`);
  }
}

async function main(): Promise<void> {
  const db = await createScratchDatabase('entrada_live_bench');
  const server = await spawnServer({ databaseUrl: db.url, env: { ENTRADA_LIVE_MAX: String(DASHBOARDS + 10) } });
  const api = new Api(server.url);
  const pool = new Pool(server.url, { connections: 64, pipelining: 1, keepAliveTimeout: 30_000 });
  try {
    const event = await createBenchEvent(api, server.adminToken, 4);
    const needed = Math.ceil(RATE * ((WARM_MS + 2 * ROUNDS * PHASE_MS) / 1000) * 1.05) + 1_000;
    log(`issuing ${fmtInt(needed)} tickets`);
    const { codes } = await bulkCreateTickets(api, server.adminToken, event, needed, 10_000);
    const devices = await registerScanners(api, server.adminToken, event, 50);
    let next = 0;
    const phase = (name: string, ms: number): Promise<OpenLoopResult> =>
      openLoop<{ d: BenchDevice; code: string }>({
        name,
        rate: RATE,
        durationMs: ms,
        expect: 'valid',
        next: (i) => (next < codes.length ? { d: devices[i % devices.length]!, code: codes[next++]! } : undefined),
        run: ({ d, code }) => scanOnce(pool, d, code),
      });

    log('warm-up');
    await phase('warm-up', WARM_MS);
    const delay = new LatencyRecorder();
    const without: OpenLoopResult[] = [];
    const withDash: OpenLoopResult[] = [];
    const scansSeen: number[] = [];
    let delivered = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      log(`round ${round}: ${RATE}/s, no dashboard`);
      const measured = <T>(name: string, fn: () => Promise<T>): Promise<T> =>
        PROFILE && round === 1 ? profiled(server, db, name, fn) : fn();
      without.push(await measured('no dashboard', () => phase(`round ${round}: no dashboard`, PHASE_MS)));
      const watching = await openDashboards({
        url: server.url,
        path: `/api/v1/events/${event.eventId}/live`,
        token: server.adminToken,
        count: DASHBOARDS,
      });
      log(`round ${round}: ${RATE}/s, ${DASHBOARDS} dashboards`);
      const p = await measured('dashboards', () => phase(`round ${round}: ${DASHBOARDS} dashboards`, PHASE_MS));
      withDash.push(p);
      await new Promise((r) => setTimeout(r, 1_500));
      const seen = await watching.stop();
      for (const ms of seen.delays) delay.record(ms);
      scansSeen.push(seen.minScans);
      delivered += p.ok;
      await new Promise((r) => setTimeout(r, 500));
    }

    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const p99Without = median(without.map((p) => p.latencyMs.p99));
    const p99With = median(withDash.map((p) => p.latencyMs.p99));
    const gap = p99With - p99Without;
    const delivery = delay.summary();
    const rows = without
      .flatMap((w, i) => [w, withDash[i]!])
      .map((p) => [
        p.name,
        fmtInt(p.requests),
        fmtInt(p.ok),
        fmtInt(p.errors),
        fmtMs(p.latencyMs.p50),
        fmtMs(p.latencyMs.p90),
        fmtMs(p.latencyMs.p99),
        fmtMs(p.latencyMs.max),
      ]);
    const table = markdownTable(
      [`phase (${fmtInt(RATE)} scans/s)`, 'requests', 'valid', 'errors', 'p50', 'p90', 'p99', 'max'],
      rows,
    );
    const perRound = scansSeen.map((n, i) => `${fmtInt(n)} of ${fmtInt(withDash[i]!.ok)}`).join(', ');
    const load = (await import('node:os'))
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' / ');
    const summary = markdownTable(
      ['measure', 'value', 'target', ''],
      [
        [
          'scanning p99, median of the rounds: with dashboards − without',
          `${fmtMs(p99With)} − ${fmtMs(p99Without)} = ${gap.toFixed(2)} ms`,
          `≤ ${TARGETS.p99GapMs} ms`,
          pass(gap <= TARGETS.p99GapMs),
        ],
        [
          `delivery delay to ${DASHBOARDS} dashboards, p50 / p99 / max`,
          `${fmtMs(delivery.p50)} / ${fmtMs(delivery.p99)} / ${fmtMs(delivery.max)}`,
          `p99 ≤ ${TARGETS.deliveryP99Ms} ms`,
          pass(delivery.p99 <= TARGETS.deliveryP99Ms),
        ],
        [
          'scans the slowest dashboard heard of (listed or counted in `omitted`), per round',
          perRound,
          'all',
          pass(scansSeen.every((n, i) => n >= withDash[i]!.ok)),
        ],
        ['machine load average (1 / 5 / 15 min) at the end', load, '', ''],
      ],
    );
    console.log(
      `\n## Live stream: ${fmtInt(RATE)} online scans/s with 0 and ${DASHBOARDS} dashboards (${QUICK ? 'quick' : 'full'}, ${ROUNDS} rounds)\n\n${table}\n\n${summary}\n`,
    );
    const file = await saveJson(`live-${timestamp()}`, {
      machine: machineInfo(),
      loadavg: load,
      quick: QUICK,
      rate: RATE,
      phaseMs: PHASE_MS,
      rounds: ROUNDS,
      dashboards: DASHBOARDS,
      without,
      withDashboards: withDash,
      delivery,
      delivered,
      p99WithoutMs: p99Without,
      p99WithMs: p99With,
      p99GapMs: gap,
      scansSeen,
    });
    console.log(`JSON: ${file}`);
  } finally {
    await pool.close().catch(() => undefined);
    await api.close().catch(() => undefined);
    await server.stop();
    await db.drop();
  }
}

const started = performance.now();
main().then(
  () => log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
