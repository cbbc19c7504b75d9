/**
 * Crash consistency of real server processes: `entrada serve` on
 * PostgreSQL, killed with SIGKILL before, during and after offline uploads
 * from several devices at once, restarted, and every upload not yet
 * acknowledged sent again. The final state (every scan and its verdict,
 * the conflicts, the tickets' admission state, the device logs) must be
 * the one a control run reaches with the same inputs and no kill, in a
 * second fresh database.
 *
 * Seeded: the scan logs, their batches and the kill points come from
 * ENTRADA_FAULT_SEED (random by default, printed on failure). The
 * interleaving of the devices is not (they upload in parallel); the final
 * state depends only on the set of scans, which is what is checked.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { toBase64Url } from '@entrada/core';
import {
  Client,
  describePostgres,
  freshPostgresDatabase,
  issueTickets,
  seedEvent,
  type SeededEvent,
} from './harness.ts';
import { TestDevice } from './offline-helpers.ts';

const SEED = process.env.ENTRADA_FAULT_SEED
  ? Number(process.env.ENTRADA_FAULT_SEED)
  : Math.floor(Math.random() * 2 ** 31);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const ADMIN_TOKEN = 'eat_process_fault_test_admin_token_0123456789';
const SECRET = 'process-fault-test-secret-0123456789abcdef';

const DEVICES = 4;
const TICKETS = 16;
const SCANS_PER_DEVICE = 36;
const HOUR = 3_600_000;

type GateKey = 'main' | 'any' | 'vip';
type TypeKey = 'ga' | 'reentry' | 'multi' | 'vip';
interface ScanSpec {
  ticket: number;
  offsetS: number;
  direction: 'entry' | 'exit';
  gate: GateKey;
}
interface Plan {
  tickets: TypeKey[];
  logs: ScanSpec[][];
  /** Per device, the last seq of each upload. */
  cuts: number[][];
  /** Kills while uploads run: after this share of the uploads has been sent, wait delayMs, kill. */
  kills: Array<{ afterShare: number; delayMs: number }>;
}

const planArb: fc.Arbitrary<Plan> = fc.record({
  tickets: fc.array(fc.constantFrom<TypeKey>('ga', 'ga', 'reentry', 'multi', 'vip'), {
    minLength: TICKETS,
    maxLength: TICKETS,
  }),
  logs: fc.array(
    fc.array(
      fc.record({
        ticket: fc.integer({ min: 0, max: TICKETS - 1 }),
        // A narrow window: double entries, re-entries and near-ties are common.
        offsetS: fc.integer({ min: 0, max: 1_800 }),
        direction: fc.constantFrom<'entry' | 'exit'>('entry', 'entry', 'exit'),
        gate: fc.constantFrom<GateKey>('main', 'main', 'any', 'vip'),
      }),
      { minLength: SCANS_PER_DEVICE, maxLength: SCANS_PER_DEVICE },
    ),
    { minLength: DEVICES, maxLength: DEVICES },
  ),
  cuts: fc
    .array(fc.array(fc.integer({ min: 1, max: 8 }), { minLength: SCANS_PER_DEVICE, maxLength: SCANS_PER_DEVICE }), {
      minLength: DEVICES,
      maxLength: DEVICES,
    })
    .map((sizes) =>
      sizes.map((s) => {
        const ends: number[] = [];
        for (let end = 0, i = 0; end < SCANS_PER_DEVICE; i++)
          ends.push((end = Math.min(SCANS_PER_DEVICE, end + s[i]!)));
        return ends;
      }),
    ),
  kills: fc
    .tuple(
      fc.integer({ min: 5, max: 40 }),
      fc.integer({ min: 50, max: 85 }),
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 40 }),
    )
    .map(([a, b, d1, d2]) => [
      { afterShare: a / 100, delayMs: d1 },
      { afterShare: b / 100, delayMs: d2 },
    ]),
});

/** One `entrada serve` process on a fixed port, restartable. */
class ServerProcess {
  private child: ChildProcess | null = null;
  private output = '';
  readonly url: string;
  kills = 0;

  constructor(
    private readonly databaseUrl: string,
    private readonly port: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'packages/cli/src/bin.ts', 'serve'], {
      cwd: REPO,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: this.databaseUrl,
        PORT: String(this.port),
        HOST: '127.0.0.1',
        ENTRADA_SECRET: SECRET,
        ENTRADA_ADMIN_TOKEN: ADMIN_TOKEN,
        ENTRADA_DEMO: 'off',
        LOG_LEVEL: 'warn',
        REDIS_URL: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => {
      this.output += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.output += d.toString();
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`the server exited during start (code ${child.exitCode}):\n${this.tail()}`);
      const ok = await fetch(`${this.url}/api/health`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`the server did not start:\n${this.tail()}`);
      await sleep(50);
    }
  }

  /** SIGKILL: no shutdown hook runs, open transactions are cut off. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    this.kills++;
  }

  tail(): string {
    return this.output.split('\n').slice(-30).join('\n');
  }
}

interface Run {
  server: ServerProcess;
  db: { url: string; drop(): Promise<void> };
}

const runs: Run[] = [];

afterAll(async () => {
  for (const r of runs) {
    await r.server.kill();
    await r.db.drop();
  }
});

describePostgres('server processes killed with SIGKILL during offline uploads', () => {
  it('reach the same scans, verdicts, conflicts, tickets and device logs as a run without kills', async () => {
    const plan = fc.sample(planArb, { seed: SEED, numRuns: 1 })[0]!;
    const t0 = Math.floor(Date.now() / HOUR) * HOUR - 6 * HOUR;
    try {
      // Both runs at once: independent databases and processes.
      const [control, faulted] = await Promise.all([execute(plan, t0, false), execute(plan, t0, true)]);
      console.log(
        `process faults: seed ${SEED}, ${faulted.kills} kills, ${faulted.interrupted} uploads cut off, ` +
          `${control.state.counts.scans} scans (${control.state.counts.admitted} admitted), ${control.state.counts.conflicts} conflicts`,
      );
      expect(control.state.counts.conflicts, 'the inputs make conflicts').toBeGreaterThan(0);
      expect(control.state.counts.admitted, 'the inputs admit tickets').toBeGreaterThan(0);
      expect(faulted.kills).toBe(4);
      expect(faulted.interrupted, 'a kill cut off uploads in flight').toBeGreaterThan(0);
      expect(faulted.state).toEqual(control.state);
    } catch (err) {
      (err as Error).message = `[ENTRADA_FAULT_SEED=${SEED}] ${(err as Error).message}`;
      throw err;
    }
  }, 180_000);
});

/**
 * Sets up the event, tickets and devices, then uploads every device's log
 * in its batches, in parallel. With `faults`: a kill after setup, two while
 * the uploads run, one after they are all acknowledged; each followed by a
 * restart.
 */
async function execute(
  plan: Plan,
  t0: number,
  faults: boolean,
): Promise<{ state: FinalState; kills: number; interrupted: number }> {
  const db = await freshPostgresDatabase();
  const server = new ServerProcess(db.url, await freePort());
  runs.push({ server, db });
  await server.start();
  const admin = new Client(server.url, ADMIN_TOKEN);

  const ev = await seedEvent(admin, {
    starts_at: new Date(t0 - 24 * HOUR).toISOString(),
    ends_at: new Date(t0 + 24 * HOUR).toISOString(),
  });
  await issueTickets(
    admin,
    ev.eventId,
    plan.tickets.map((type, i) => ({ ticket_type_id: ev.types[type], code: `FAULT-${i}`, number: `F${i}` })),
  );
  const devices: TestDevice[] = [];
  for (let d = 0; d < DEVICES; d++) {
    const keys = TestDevice.keyPair(d + 1);
    const r = await admin.post('/api/v1/devices', {
      name: `Gate scanner ${d}`,
      device_id: `fault-dev-${d}`,
      public_key: toBase64Url(keys.publicKey),
    });
    if (r.status !== 201) throw new Error(`device: ${r.status} ${JSON.stringify(r.body)}`);
    const device = new TestDevice(new Client(server.url, r.body.token), `fault-dev-${d}`, ev.eventId);
    device.keys = keys;
    for (const s of plan.logs[d]!)
      device.scan({
        code: `FAULT-${s.ticket}`,
        at: t0 + s.offsetS * 1000,
        direction: s.direction,
        gateId: ev.gates[s.gate],
      });
    devices.push(device);
  }

  let restarting: Promise<void> = Promise.resolve();
  const killAndRestart = (): void => {
    restarting = (async () => {
      await server.kill();
      await server.start();
    })();
  };
  if (faults) {
    killAndRestart();
    await restarting;
  }

  let sent = 0;
  let interrupted = 0;
  const uploads = plan.cuts.reduce((n, c) => n + c.length, 0);
  const pendingKills = faults
    ? plan.kills.map((k) => ({ afterUpload: Math.max(1, Math.round(k.afterShare * uploads)), delayMs: k.delayMs }))
    : [];
  const upload = async (device: TestDevice, from: number, to: number): Promise<void> => {
    const body = JSON.stringify(device.body(from, to, { device_time: undefined, device_last_seq: device.log.length }));
    for (let attempt = 0; ; attempt++) {
      if (attempt > 200) throw new Error(`${device.deviceId} ${from}-${to}: never acknowledged\n${server.tail()}`);
      await restarting;
      sent++;
      const kill = pendingKills[0];
      if (kill && sent >= kill.afterUpload) {
        pendingKills.shift();
        setTimeout(killAndRestart, kill.delayMs);
      }
      let status: number;
      let text: string;
      try {
        const res = await fetch(`${server.url}/api/v1/offline/sync`, {
          method: 'POST',
          headers: { authorization: `Bearer ${device.client.token}`, 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(30_000),
        });
        status = res.status;
        text = await res.text();
      } catch {
        // Cut off by a kill: whether it committed or not, the same upload is sent again.
        interrupted++;
        await sleep(20);
        continue;
      }
      if (status === 200) {
        const acked = (JSON.parse(text) as { acked_through: number }).acked_through;
        if (acked < to) throw new Error(`${device.deviceId} ${from}-${to}: acknowledged only through ${acked}`);
        return;
      }
      if (status >= 500) {
        await sleep(50);
        continue;
      }
      throw new Error(`${device.deviceId} ${from}-${to}: ${status} ${text}`);
    }
  };

  await Promise.all(
    devices.map(async (device, d) => {
      let from = 1;
      for (const to of plan.cuts[d]!) {
        await upload(device, from, to);
        from = to + 1;
      }
    }),
  );
  await restarting;
  if (faults) {
    // Every upload acknowledged: what was acknowledged must survive a kill.
    killAndRestart();
    await restarting;
  }
  const state = await finalState(db.url, ev);
  await server.kill();
  return { state, kills: server.kills - 1, interrupted };
}

interface FinalState {
  counts: { scans: number; tickets: number; conflicts: number; admitted: number };
  scans: unknown[];
  conflicts: unknown[];
  tickets: unknown[];
  deviceLogs: unknown[];
}

/**
 * Everything the uploads decide, named by what both runs share (device ids
 * and seqs, ticket numbers, gate names) instead of generated ids. Left out:
 * receive times, sync sessions and counters of attempts, verdict revision
 * numbers and void conflicts — these record the path taken, not the outcome.
 */
async function finalState(url: string, ev: SeededEvent): Promise<FinalState> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const q = async (sql: string): Promise<Array<Record<string, unknown>>> => (await c.query(sql, [ev.eventId])).rows;
    const scans = await q(
      `SELECT s.device_id, s.seq::int AS seq, t.number, s.result, s.reason, s.admits, s.direction, g.name AS gate, s.record_status, s.conflict_reason,
              w.device_id || '#' || w.seq AS winner, s.ambiguous, s.forced, s.integrity, s.flags, s.local_result, s.clock_uncertainty_ms, s.source,
              (extract(epoch FROM s.scanned_at) * 1000)::bigint::text AS scanned_at
         FROM scans s LEFT JOIN tickets t ON t.event_id = s.event_id AND t.id = s.ticket_id
         LEFT JOIN gates g ON g.event_id = s.event_id AND g.id = s.gate_id
         LEFT JOIN scans w ON w.event_id = s.event_id AND w.id = s.winner_scan_id
        WHERE s.event_id = $1 ORDER BY s.device_id, s.seq`,
    );
    const conflicts = await q(
      `SELECT l.device_id || '#' || l.seq AS loser, w.device_id || '#' || w.seq AS winner, t.number, c.reason, c.ambiguous, c.status
         FROM conflicts c JOIN scans l ON l.event_id = c.event_id AND l.id = c.loser_scan_id
         LEFT JOIN scans w ON w.event_id = c.event_id AND w.id = c.winner_scan_id
         JOIN tickets t ON t.event_id = c.event_id AND t.id = c.ticket_id
        WHERE c.event_id = $1 AND c.status <> 'void' ORDER BY loser`,
    );
    const tickets = await q(
      `SELECT t.number, t.status, t.entries, (extract(epoch FROM t.first_at) * 1000)::bigint::text AS first_at, t.first_device_id, fg.name AS first_gate,
              (extract(epoch FROM t.last_at) * 1000)::bigint::text AS last_at, t.last_direction, t.last_device_id, lg.name AS last_gate
         FROM tickets t LEFT JOIN gates fg ON fg.event_id = t.event_id AND fg.id = t.first_gate_id
         LEFT JOIN gates lg ON lg.event_id = t.event_id AND lg.id = t.last_gate_id
        WHERE t.event_id = $1 ORDER BY t.number`,
    );
    const deviceLogs = await q(
      `SELECT d.device_id, l.last_seq::int AS last_seq, l.acked_through::int AS acked_through, l.missing, l.received::int AS received, l.flags, l.flag_reason,
              l.clock_offset_ms, l.reported_last_seq::int AS reported_last_seq
         FROM device_logs l JOIN devices d ON d.id = l.device_pk WHERE l.event_id = $1 ORDER BY d.device_id`,
    );
    return {
      counts: {
        scans: scans.length,
        tickets: tickets.length,
        conflicts: conflicts.length,
        admitted: scans.filter((s) => s.record_status === 'admitted').length,
      },
      scans,
      conflicts,
      tickets,
      deviceLogs,
    };
  } finally {
    await c.end();
  }
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
