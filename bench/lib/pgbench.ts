/**
 * The physical ceiling: what the same PostgreSQL server commits per second
 * with pgbench's simple-update script (-N: one UPDATE, one SELECT, one INSERT
 * per transaction, each transaction a durable commit), on a scratch database
 * that is dropped afterwards.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { ADMIN_URL, checkpoint, createScratchDatabase, singleCommitLatency } from './postgres.ts';

export interface PgbenchRun {
  clients: number;
  threads: number;
  durationS: number;
  tps: number;
  latencyAvgMs: number | null;
  transactions: number | null;
  failed: number | null;
}

export interface PgbenchResult {
  version: string;
  scale: number;
  script: string;
  initSeconds: number;
  runs: PgbenchRun[];
  /** One durable single-row commit at a time, from one connection (ms): the latency floor of a write. */
  commitLatencyMs: { count: number; p50: number; p90: number; p99: number; mean: number };
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${out.slice(-2000)}`));
    });
  });
}

function connectionArgs(url: string): { args: string[]; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const args = ['-h', u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username || 'postgres')];
  const env = { ...process.env };
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  return { args, env };
}

export function parsePgbenchOutput(out: string): Omit<PgbenchRun, 'clients' | 'threads' | 'durationS'> {
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(out) ?? /tps = ([\d.]+)/.exec(out);
  if (!tps) throw new Error(`could not find tps in pgbench output:\n${out}`);
  const lat = /latency average = ([\d.]+) ms/.exec(out);
  const tx = /number of transactions actually processed: (\d+)/.exec(out);
  const failed = /number of failed transactions: (\d+)/.exec(out);
  return {
    tps: Number(tps[1]),
    latencyAvgMs: lat ? Number(lat[1]) : null,
    transactions: tx ? Number(tx[1]) : null,
    failed: failed ? Number(failed[1]) : null,
  };
}

export async function pgbenchVersion(): Promise<string> {
  return (await run('pgbench', ['--version'], process.env, 10_000)).trim();
}

/**
 * `pgbench -i -s <scale>` on a scratch database, then one `pgbench -N -T <duration>`
 * run per entry of `runs`. The scratch database is dropped whatever happens.
 */
export async function pgbenchCeiling(opts: {
  scale: number;
  durationS: number;
  runs: Array<{ clients: number; threads: number }>;
  adminUrl?: string;
  log?: (line: string) => void;
}): Promise<PgbenchResult> {
  const log = opts.log ?? (() => undefined);
  const adminUrl = opts.adminUrl ?? ADMIN_URL;
  const version = await pgbenchVersion();
  const db = await createScratchDatabase('entrada_bench_pgbench', adminUrl);
  const { args, env } = connectionArgs(adminUrl);
  try {
    const t0 = performance.now();
    await run('pgbench', [...args, '-i', '-q', '-s', String(opts.scale), db.name], env, 300_000);
    const initSeconds = (performance.now() - t0) / 1000;
    log(`pgbench -i -s ${opts.scale}: ${initSeconds.toFixed(1)} s`);
    const runs: PgbenchRun[] = [];
    for (const r of opts.runs) {
      await checkpoint(adminUrl);
      const out = await run(
        'pgbench',
        [...args, '-N', '-c', String(r.clients), '-j', String(r.threads), '-T', String(opts.durationS), '-n', db.name],
        env,
        (opts.durationS + 60) * 1000,
      );
      const parsed = { clients: r.clients, threads: r.threads, durationS: opts.durationS, ...parsePgbenchOutput(out) };
      log(
        `pgbench -N -c ${r.clients} -j ${r.threads} -T ${opts.durationS}: ${parsed.tps.toFixed(0)} tps, latency avg ${parsed.latencyAvgMs ?? '?'} ms`,
      );
      runs.push(parsed);
    }
    const commitLatencyMs = await singleCommitLatency(db.url);
    log(
      `single-row commit, one at a time: p50 ${commitLatencyMs.p50.toFixed(3)} ms, p99 ${commitLatencyMs.p99.toFixed(3)} ms`,
    );
    return { version, scale: opts.scale, script: 'simple-update (-N)', initSeconds, runs, commitLatencyMs };
  } finally {
    await db.drop().catch((err: unknown) => log(`could not drop ${db.name}: ${String(err)}`));
  }
}
