/**
 * Runs an Entrada server in a child process (bench/lib/server-process.ts), so
 * the load generator never shares the server's event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const BUILD_SCRIPT = new URL('../../scripts/ensure-server-build.mjs', import.meta.url).href;

export interface ServerProcess {
  url: string;
  pid: number;
  adminToken: string;
  /** Starts the V8 CPU profiler inside the server. */
  startProfile(): Promise<void>;
  /** The next manifest request builds instead of being served from the cache. */
  clearManifestCache(): Promise<void>;
  /** Starts counting the statements the server sends to PostgreSQL (a diagnostic; not with PGlite). */
  startQueryCount(): Promise<void>;
  /** Stops counting: statements sent since startQueryCount, in all and by prepared statement name or first words. */
  stopQueryCount(): Promise<QueryCount>;
  /** Stops it and writes the profile to `file` (.cpuprofile, opens in Chrome DevTools). */
  stopProfile(file: string): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after 15 s) and waits for the process to end. */
  stop(): Promise<void>;
}

export interface QueryCount {
  total: number;
  byStatement: Record<string, number>;
}

export interface SpawnServerOptions {
  /** PostgreSQL server; omit for the embedded PGlite default (then dataDir is required). */
  databaseUrl?: string;
  dataDir?: string;
  /** Several instances of one installation share these two (default: generated). */
  adminToken?: string;
  secret?: string;
  /** Extra environment (e.g. ENTRADA_TICKET_CACHE). */
  env?: Record<string, string>;
  /** Extra node options for the child (e.g. --cpu-prof), after PRODUCTION_NODE_ARGS. */
  nodeArgs?: string[];
  /** Lines the server prints (its warnings and errors); default: stderr with a [server] prefix. */
  onOutput?: (line: string) => void;
  startTimeoutMs?: number;
}

/** The node options the README recommends for API instances (`npm start` uses them, with --enable-source-maps): benchmarks measure what production runs. */
export const PRODUCTION_NODE_ARGS = ['--max-semi-space-size=64'];

export async function spawnServer(opts: SpawnServerOptions): Promise<ServerProcess> {
  const adminToken = opts.adminToken ?? `eat_bench_${randomBytes(24).toString('base64url')}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    ENTRADA_DEMO: 'off',
    ENTRADA_ADMIN_TOKEN: adminToken,
    ENTRADA_SECRET: opts.secret ?? randomBytes(32).toString('base64url'),
    LOG_LEVEL: 'warn',
    ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {}),
    ...(opts.dataDir ? { DATA_DIR: opts.dataDir } : {}),
    ...opts.env,
  };
  // The server runs bundled, as `npm start` runs it (scripts/ensure-server-build.mjs), not under tsx.
  const { ensureServerBuild, BENCH_SERVER_BUNDLE } = (await import(BUILD_SCRIPT)) as {
    ensureServerBuild(o: { quiet: boolean }): Promise<boolean>;
    BENCH_SERVER_BUNDLE: string;
  };
  await ensureServerBuild({ quiet: true });
  const child = spawn(
    process.execPath,
    ['--enable-source-maps', ...PRODUCTION_NODE_ARGS, ...(opts.nodeArgs ?? []), BENCH_SERVER_BUNDLE],
    { env, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const output = opts.onOutput ?? ((line: string) => process.stderr.write(`[server] ${line}\n`));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waiters: Array<{ prefix: string; resolve: (rest: string) => void }> = [];
  const waitFor = (prefix: string, timeoutMs: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not answer ${prefix} in time`)), timeoutMs);
      waiters.push({
        prefix,
        resolve: (rest) => {
          clearTimeout(timer);
          resolve(rest);
        },
      });
    });

  let buffer = '';
  const onLine = (line: string): void => {
    const i = waiters.findIndex((w) => line.startsWith(w.prefix));
    if (i >= 0) {
      const [w] = waiters.splice(i, 1);
      w!.resolve(line.slice(w!.prefix.length).trim());
    } else if (line.trim() !== '') {
      output(line);
    }
  };
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      onLine(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    for (const l of d.toString().split('\n')) if (l.trim()) output(l);
  });
  child.stdin!.on('error', () => undefined);

  const ready = await Promise.race([
    waitFor('BENCH_SERVER_READY ', opts.startTimeoutMs ?? 60_000).then(
      (rest) => JSON.parse(rest) as { url: string; pid: number },
    ),
    exited.then((code) => {
      throw new Error(`the server exited during start-up (code ${code})`);
    }),
  ]).catch(async (err: unknown) => {
    await kill(child, exited);
    throw err;
  });

  return {
    url: ready.url,
    pid: child.pid!,
    adminToken,
    async startProfile() {
      child.stdin!.write('profile-start\n');
      await waitFor('BENCH_PROFILE_STARTED', 10_000);
    },
    async clearManifestCache() {
      child.stdin!.write('manifest-cache-clear\n');
      await waitFor('BENCH_MANIFEST_CACHE_CLEARED', 10_000);
    },
    async startQueryCount() {
      child.stdin!.write('queries-start\n');
      await waitFor('BENCH_QUERIES_STARTED', 10_000);
    },
    async stopQueryCount() {
      child.stdin!.write('queries-stop\n');
      return JSON.parse(await waitFor('BENCH_QUERIES ', 10_000)) as QueryCount;
    },
    async stopProfile(file) {
      child.stdin!.write(`profile-stop ${file}\n`);
      await waitFor('BENCH_PROFILE_SAVED', 30_000);
    },
    stop: () => kill(child, exited),
  };
}

async function kill(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
