/**
 * Child-process entry point: starts one Entrada server from the environment
 * (the same variables as production: DATABASE_URL or DATA_DIR, PORT, HOST,
 * ENTRADA_ADMIN_TOKEN, ENTRADA_DEMO, LOG_LEVEL...) and reports its address on
 * stdout as one line, `BENCH_SERVER_READY {"url":...}`.
 *
 * Commands arrive on stdin, one per line:
 *   profile-start          start the V8 CPU profiler (in-process, node:inspector)
 *   profile-stop <file>    stop it and write the .cpuprofile; answers `BENCH_PROFILE_SAVED <file>`
 *   manifest-cache-clear   forget the cached manifests, so the next request builds one
 *   queries-start          count the statements the server sends to PostgreSQL (a diagnostic: round trips per scan)
 *   queries-stop           stop counting; answers `BENCH_QUERIES {"total":n,"byStatement":{...}}`
 *
 * It stops cleanly on SIGTERM/SIGINT, and also when its stdin closes, so it
 * never outlives the benchmark that started it. Started by spawn-server.ts.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { loadConfig, startServer } from '@entrada/server';

const config = loadConfig(process.env);
const server = await startServer({ config });
process.stdout.write(
  `BENCH_SERVER_READY ${JSON.stringify({ url: server.url, pid: process.pid, db: server.dbKind })}\n`,
);

let inspector: Session | null = null;

/**
 * Counts statements by wrapping the pg driver's Client.query (the server's pool uses it for every statement, in
 * a transaction or not), keyed by the prepared statement's name or the text's first words.
 */
type Query = typeof pg.Client.prototype.query;
const originalQuery: Query = pg.Client.prototype.query;
let counted: Map<string, number> | null = null;
function statementKey(arg: unknown): string {
  if (typeof arg === 'string') return arg.replace(/\s+/g, ' ').trim().slice(0, 60);
  if (arg && typeof arg === 'object') {
    const q = arg as { name?: unknown; text?: unknown };
    if (typeof q.name === 'string' && q.name !== '') return q.name;
    if (typeof q.text === 'string') return q.text.replace(/\s+/g, ' ').trim().slice(0, 60);
  }
  return '(other)';
}
function countQueries(on: boolean): void {
  if (on) {
    const counts = new Map<string, number>();
    counted = counts;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const key = statementKey(args[0]);
      counts.set(key, (counts.get(key) ?? 0) + 1);
      return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
    } as Query;
  } else {
    pg.Client.prototype.query = originalQuery;
    counted = null;
  }
}

async function command(line: string): Promise<void> {
  const [cmd, ...rest] = line.trim().split(' ');
  if (cmd === 'profile-start') {
    inspector ??= new Session();
    inspector.connect();
    await inspector.post('Profiler.enable');
    await inspector.post('Profiler.setSamplingInterval', { interval: 250 });
    await inspector.post('Profiler.start');
    process.stdout.write('BENCH_PROFILE_STARTED\n');
  } else if (cmd === 'manifest-cache-clear') {
    server.services.sync.manifest.clearCache();
    process.stdout.write('BENCH_MANIFEST_CACHE_CLEARED\n');
  } else if (cmd === 'queries-start') {
    countQueries(true);
    process.stdout.write('BENCH_QUERIES_STARTED\n');
  } else if (cmd === 'queries-stop') {
    const byStatement = Object.fromEntries(counted ?? []);
    countQueries(false);
    const total = Object.values(byStatement).reduce((a, b) => a + b, 0);
    process.stdout.write(`BENCH_QUERIES ${JSON.stringify({ total, byStatement })}\n`);
  } else if (cmd === 'profile-stop' && inspector) {
    const { profile } = await inspector.post('Profiler.stop');
    await writeFile(rest.join(' '), JSON.stringify(profile));
    inspector.disconnect();
    inspector = null;
    process.stdout.write(`BENCH_PROFILE_SAVED ${rest.join(' ')}\n`);
  }
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  try {
    await server.close();
  } finally {
    process.exit(0);
  }
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
const lines = createInterface({ input: process.stdin });
lines.on(
  'line',
  (line) => void command(line).catch((err: unknown) => process.stderr.write(`bench command failed: ${String(err)}\n`)),
);
lines.on('close', () => void stop());
