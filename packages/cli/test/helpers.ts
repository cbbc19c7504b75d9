import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { openPglite } from '../../server/src/db/pglite.ts';
import { startTestServer, type TestServer } from '../../server/test/harness.ts';
import { createOutput, type Output } from '../src/output.ts';
import { runCli } from '../src/program.ts';

/** Heavy tests set their own timeouts too: the repository-wide run does not read this package's vitest config. */
export const SLOW = 120_000;

class Collector extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

export interface Captured {
  output: Output;
  stdout(): string;
  stderr(): string;
}

/** An Output a test can read back; not a TTY, like a CI log. */
export function captureOutput(opts: { color?: boolean; columns?: number } = {}): Captured {
  const stdout = new Collector();
  const stderr = new Collector();
  return {
    output: createOutput({ stdout, stderr, color: opts.color ?? false, columns: opts.columns ?? 80 }),
    stdout: () => stdout.text,
    stderr: () => stderr.text,
  };
}

/** A real server on in-memory PGlite, listening on a free port. */
export async function startServerForTests(): Promise<{ server: TestServer; close(): Promise<void> }> {
  const db = await openPglite();
  const server = await startTestServer(db);
  return {
    server,
    async close() {
      await server.close();
      await db.close();
    },
  };
}

/** Runs a whole command line in-process, as `entrada …` would, with only the given environment. */
export async function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  opts: { color?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const captured = captureOutput(opts);
  const code = await runCli(['node', 'entrada', ...args], { output: captured.output, env });
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

export async function tempDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'entrada-cli-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}
