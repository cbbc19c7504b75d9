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
 *
 * It stops cleanly on SIGTERM/SIGINT, and also when its stdin closes, so it
 * never outlives the benchmark that started it. Started by spawn-server.ts.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { createInterface } from 'node:readline';
import { loadConfig, startServer } from '@entrada/server';

const config = loadConfig(process.env);
const server = await startServer({ config });
process.stdout.write(`BENCH_SERVER_READY ${JSON.stringify({ url: server.url, pid: process.pid, db: server.dbKind })}\n`);

let inspector: Session | null = null;
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
lines.on('line', (line) => void command(line).catch((err: unknown) => process.stderr.write(`bench command failed: ${String(err)}\n`)));
lines.on('close', () => void stop());
