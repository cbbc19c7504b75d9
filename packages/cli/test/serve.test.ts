import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMigrate } from '../src/commands/migrate.ts';
import { startServe } from '../src/commands/serve.ts';
import { CliError } from '../src/errors.ts';
import { Client } from '../../server/test/harness.ts';
import { captureOutput, cli, SLOW, tempDir } from './helpers.ts';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const BUILD_SCRIPT = new URL('../../../scripts/ensure-server-build.mjs', import.meta.url).href;
let tmp: { dir: string; remove(): Promise<void> };

beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(() => tmp.remove());

// Only what the test sets: a developer's DATABASE_URL or REDIS_URL must not leak in.
const serverEnv = (dataDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  DATA_DIR: dataDir,
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'silent',
  ENTRADA_SECRET: 'cli-test-secret',
  ...extra,
});

describe('entrada serve', () => {
  it(
    'prints the URL, docs, admin token and a demo whose scan line works; keeps the token across restarts',
    async () => {
      const dataDir = `${tmp.dir}/first`;
      const first = captureOutput();
      const server = await startServe({ env: serverEnv(dataDir) }, first.output);
      let out = first.stdout();
      try {
        expect(out).toContain(`URL          ${server.url}`);
        expect(out).toContain(`API docs     ${server.url}/docs`);
        expect(out).toContain(`Database     embedded PGlite in ${dataDir}/pglite`);
        expect(out).toContain(`Admin token  ${server.bootstrap.adminToken}`);
        expect(out).toContain(`(generated now; kept in ${dataDir}/bootstrap.json so it is shown on every start)`);
        // The console and its first owner's generated login, which works.
        expect(out).toContain(`Console      ${server.url}/console/`);
        const owner = /^ {2}Login {8}(\S+) {2}password (\S+)$/m.exec(out);
        expect(owner?.[1]).toBe('owner@entrada.local');
        expect(out).toContain(`(generated now; kept in ${dataDir}/bootstrap.json until you change it)`);
        const session = await new Client(server.url, null).post('/api/v1/auth/login', {
          email: owner![1],
          password: owner![2],
        });
        expect(session.body.user).toMatchObject({ email: 'owner@entrada.local', role: 'owner' });
        const demo = server.bootstrap.demo!;
        expect(out).toContain(`Event id      ${demo.eventId}`);
        expect(out).toContain(`Device token  ${demo.deviceToken}`);
        for (const g of demo.gates) expect(out).toMatch(new RegExp(`${g.name}\\s+${g.id}`));
        for (const s of demo.sampleCodes)
          expect(out).toMatch(new RegExp(`${s.tier.replace(/[()]/g, '\\$&')}\\s+${s.number}\\s+${s.code}`));

        // Paste the printed line (minus the npx) and it admits.
        const line = /^\s+ENTRADA_DEVICE_TOKEN=(\S+) npx entrada (scan .*)$/m.exec(out);
        expect(line).not.toBeNull();
        const scan = await cli(line![2]!.split(' '), { ENTRADA_DEVICE_TOKEN: line![1] });
        expect(scan.code).toBe(0);
        expect(scan.stdout).toContain('VALID');
        const events = await cli(['events', 'list', '--url', server.url, '--token', server.bootstrap.adminToken!]);
        expect(events.stdout).toContain('Demo Festival');

        // The printed pairing code pairs a phone, on which the printed staff login works.
        const code = /^ {2}Pairing code {2}(\S+) {2}\(one device, valid until \S+, at Main Gate\)$/m.exec(out)?.[1];
        expect(code).toBe(demo.pairing!.code);
        expect(out).toContain(`  Pair URL      ${server.url}/?pair=${code}`);
        expect(out).toContain('  Staff login   username gate, PIN 1234');
        const key = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x;
        const paired = await new Client(server.url, null).post('/api/v1/devices/pair', { code, public_key: key });
        expect(paired.status).toBe(201);
        const login = await new Client(server.url, paired.body.token).post(`/api/v1/events/${demo.eventId}/login`, {
          username: 'gate',
          pin: '1234',
        });
        expect(login.body.staff).toMatchObject({ username: 'gate' });
      } finally {
        await server.close();
      }

      const again = captureOutput();
      const restarted = await startServe({ env: serverEnv(dataDir) }, again.output);
      await restarted.close();
      out = again.stdout();
      expect(out).toContain(`Admin token  ${server.bootstrap.adminToken}`);
      expect(out).toContain(`(from the data folder: ${dataDir}/bootstrap.json)`);
      expect(out).toMatch(/^ {2}Login {8}owner@entrada\.local {2}password \S+$/m);
      expect(out).toContain(`(from ${dataDir}/bootstrap.json; change it in the console)`);
      expect(out).toContain(`Event id      ${server.bootstrap.demo!.eventId}`);
      // The first code was used: a new one is printed (and kept) instead.
      expect(restarted.bootstrap.demo!.pairing!.code).not.toBe(server.bootstrap.demo!.pairing!.code);
      expect(out).toContain(`  Pair URL      ${restarted.url}/?pair=${restarted.bootstrap.demo!.pairing!.code}`);

      const migrated = captureOutput();
      const report = await runMigrate({ env: serverEnv(dataDir) }, migrated.output);
      expect(report.applied).toEqual([]);
      expect(migrated.stdout()).toBe(
        `Database: embedded PGlite in ${dataDir}/pglite\nUp to date: nothing to apply (schema ${report.current}).\n`,
      );
    },
    SLOW,
  );

  it(
    'migrate applies the migrations of a new database',
    async () => {
      const migrated = captureOutput();
      const report = await runMigrate({ env: serverEnv(`${tmp.dir}/fresh`) }, migrated.output);
      expect(report.applied.length).toBeGreaterThan(0);
      expect(migrated.stdout()).toContain(`Applied ${report.applied[0]}`);
      expect(migrated.stdout()).toContain(`Schema is now at ${report.current}.`);
    },
    SLOW,
  );

  it(
    'explains configuration errors and a busy port in one line',
    async () => {
      const badPort = await cli(['serve'], { PORT: 'eighty', DATA_DIR: `${tmp.dir}/unused` });
      expect(badPort).toMatchObject({
        code: 1,
        stdout: '',
        stderr: 'error: configuration: PORT must be an integer between 0 and 65535, got "eighty"\n',
      });
      const badCache = await cli(['migrate'], { ENTRADA_TICKET_CACHE: '-1' });
      expect(badCache.stderr).toMatch(/^error: configuration: ENTRADA_TICKET_CACHE must be/);

      const blocker = createServer();
      blocker.listen(0, '127.0.0.1');
      await once(blocker, 'listening');
      const port = (blocker.address() as { port: number }).port;
      try {
        const err = await startServe(
          { env: serverEnv(`${tmp.dir}/busy`, { PORT: String(port) }) },
          captureOutput().output,
        ).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(CliError);
        expect((err as CliError).message).toBe(
          `port ${port} is already in use on 127.0.0.1: stop the other process, or set PORT (or --port)`,
        );
      } finally {
        blocker.close();
      }
    },
    SLOW,
  );

  // `npm start` runs the esbuild bundle (scripts/ensure-server-build.mjs); the sources run under tsx in development.
  it.each([
    ['the sources under tsx', async () => ['--import', 'tsx', 'src/bin.ts']],
    [
      'the bundle npm start runs',
      async () => {
        const { ensureServerBuild, SERVER_BUNDLE } = (await import(BUILD_SCRIPT)) as {
          ensureServerBuild(o: { quiet: boolean }): Promise<boolean>;
          SERVER_BUNDLE: string;
        };
        await ensureServerBuild({ quiet: true });
        return ['--enable-source-maps', SERVER_BUNDLE];
      },
    ],
  ])(
    'the real binary (%s) serves until SIGTERM, then shuts down cleanly with exit 0',
    async (label, entry) => {
      const dataDir = `${tmp.dir}/spawned-${label.length}`;
      const child = spawn(
        process.execPath,
        [...(await entry()), 'serve', '--data-dir', dataDir, '--port', '0', '--host', '127.0.0.1'],
        {
          cwd: packageDir,
          env: {
            ...process.env,
            ...serverEnv(`${tmp.dir}/ignored`),
            ENTRADA_DEMO: 'off',
            ENTRADA_ADMIN_TOKEN: 'eat_spawned_test_token',
            DATABASE_URL: '',
            REDIS_URL: '',
            ENTRADA_OWNER_EMAIL: 'ops@example.com',
            ENTRADA_OWNER_PASSWORD: 'spawned owner passphrase',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = once(child, 'exit');
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no banner in time:\n${stdout}\n${stderr}`)), 60_000);
          child.stdout.on('data', () => {
            if (stdout.includes('Press Ctrl-C to stop.')) {
              clearTimeout(timer);
              resolve();
            }
          });
          void exited.then(() => reject(new Error(`exited early:\n${stdout}\n${stderr}`)));
        });
        expect(stdout).toContain(`embedded PGlite in ${dataDir}/pglite`);
        // The operator's own token is never printed.
        expect(stdout).not.toContain('eat_spawned_test_token');
        expect(stdout).toContain('Admin token  set by ENTRADA_ADMIN_TOKEN (not shown)');
        // The operator's first owner: made, its password never printed.
        expect(stdout).toContain('Login        ops@example.com with ENTRADA_OWNER_PASSWORD (not shown)');
        expect(stdout).not.toContain('spawned owner passphrase');
        expect(stdout).toContain('No demo event (ENTRADA_DEMO=off');
        const url = /URL {10}(\S+)/.exec(stdout)![1]!;
        expect((await cli(['devices', 'list', '--url', url, '--token', 'eat_spawned_test_token'])).stdout).toContain(
          'No devices yet',
        );
        expect(
          (
            await new Client(url, null).post('/api/v1/auth/login', {
              email: 'ops@example.com',
              password: 'spawned owner passphrase',
            })
          ).status,
        ).toBe(200);
      } finally {
        child.kill('SIGTERM');
      }
      const [code] = await exited;
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(stdout).toContain('SIGTERM received: shutting down…');
      expect(stdout).toContain('Stopped.');
    },
    SLOW,
  );
});
