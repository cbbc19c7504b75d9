/**
 * The deterministic multi-device simulation of the offline design.
 *
 * One seed fixes everything: a virtual clock shared by the server (its `now`)
 * and every device (each with a fixed skew of up to ±2 s); a real server on
 * in-memory PGlite reached through `app.inject` by a simulated network
 * (delivered, connection refused, request lost, response lost after the
 * server committed, duplicated, delivered late / reordered, device partitioned
 * for a window); N devices (Scanner + MemoryStore on their own backing) that
 * scan online-first with offline fallback, sync, and crash at named points
 * (before the outbox commit, after the commit before the push, after the push
 * before the ack commit) and restart on the same backing. A seed may also
 * close the main gate at a virtual step (the server stamps closed_at with the
 * virtual clock) and give the General zone a capacity of 1–4 in warn or
 * enforce mode, and block one ticket at a step and unblock it at a later one
 * (issue 14 §2). Then the network heals, every device drains its
 * outbox and downloads, and the invariants in ./invariants.ts are checked.
 *
 * Nothing runs on real timers: the simulation fires timers and late
 * deliveries in virtual-time order whenever a client is waiting on the
 * network and every server call has finished (see `settle`).
 */
import { ed25519, toBase64Url, type Direction } from '@entrada/core';
import { Scanner, type ScanOutcome } from '../../src/scanner.ts';
import { memoryBacking, type MemoryBacking } from '../../src/storage/memory-store.ts';
import { CrashError, crashableStore } from './crash-store.ts';
import { checkInvariants, type SimFacts } from './invariants.ts';
import { DEFAULT_FAULTS, Network, SIM_BASE_URL, type FaultRates } from './network.ts';
import { Prng } from '../../src/prng.ts';
import { DeviceClock, Scheduler } from './virtual-time.ts';
import {
  issueTickets,
  registerDevice,
  seedEvent,
  startSimBackend,
  type SeededEvent,
  type SimBackend,
} from './server-setup.ts';

/** Virtual start of every run: inside the simulated event. */
export const T0 = Date.parse('2026-07-01T18:00:00Z');

export interface SimOptions {
  devices: number;
  steps: number;
  faults: FaultRates;
  /** Maximum clock skew per device (ms, either way). */
  maxSkewMs: number;
  crashRate: number;
  /** Fixed clock skews per device instead of random ones. */
  skews?: number[];
  /**
   * Issue 14 §2 at the gates, drawn per seed from its own stream (the other streams stay as they were): the
   * chance that the main gate is closed at a random step, and that the General zone gets a small capacity
   * in `warn` mode (offline admissions over it are flagged over_capacity, never refused).
   */
  closeGateRate: number;
  capacityRate: number;
  /**
   * The chance that one ticket is blocked at a random step and unblocked at a later one (issue 14 §2, the other
   * direction of the cancellation race): devices offline meanwhile decide on old manifests, and every scan is
   * judged on the ticket's status at its scan time. Drawn from a stream of its own.
   */
  blockRate?: number;
  /** Controls only: a reference replay that judges every scan on the ticket's status now (no history). */
  referenceIgnoresStatusHistory?: boolean;
  /** A fixed capacity for the General zone instead of a drawn one (directed scenarios). */
  zoneCapacity?: { capacity: number; mode: 'warn' | 'enforce' };
  /** Controls only: a reference replay that ignores gates' closed_at (the invariants must then fail). */
  referenceIgnoresClosedAt?: boolean;
  /** Controls only: a reference that counts no zone's capacity. */
  referenceIgnoresCapacity?: boolean;
  /** A directed scenario instead of the random steps (setup, heal and invariants stay the same). */
  scenario?: (w: ScenarioWorld) => Promise<void>;
}

export interface ScenarioWorld {
  net: Network;
  sched: Scheduler;
  devices: readonly SimDevice[];
  tickets: ReadonlyArray<{ id: string; code: string; typeId: string }>;
  event: SeededEvent;
  runOp<T>(p: Promise<T>): Promise<T>;
  advance(ms: number): Promise<void>;
  /** Closes a gate now (virtual time; the server stamps closed_at with its clock, which is the virtual one). */
  closeGate(gateId: string): Promise<void>;
  /** Blocks or unblocks a ticket now (virtual time, as closeGate). */
  setTicketStatus(ticketId: string, call: 'block' | 'unblock'): Promise<void>;
}

export const DEFAULT_OPTIONS: SimOptions = {
  devices: 4,
  steps: 60,
  faults: DEFAULT_FAULTS,
  maxSkewMs: 2_000,
  crashRate: 0.05,
  closeGateRate: 0.6,
  capacityRate: 0.6,
  blockRate: 0.5,
};

/** One server on in-memory PGlite whose clock is the current run's virtual clock. */
export class SimServer {
  private constructor(
    readonly backend: SimBackend,
    private readonly holder: { now: () => number },
  ) {}

  static async start(): Promise<SimServer> {
    const holder = { now: () => T0 };
    return new SimServer(await startSimBackend(() => holder.now()), holder);
  }

  use(sched: Scheduler): void {
    this.holder.now = () => sched.now();
  }

  close(): Promise<void> {
    return this.backend.close();
  }
}

export interface SimDevice {
  index: number;
  deviceId: string;
  token: string;
  keys: { secretKey: Uint8Array; publicKey: Uint8Array };
  backing: MemoryBacking;
  clock: DeviceClock;
  incarnation: number;
  scanner: Scanner;
  crash: ReturnType<typeof crashableStore>;
  restarts: number;
}

export interface SimResult {
  seed: number;
  violations: string[];
  stats: Record<string, number>;
  /** Human-readable log of what happened (printed on failure). */
  log: string[];
  /** Every request and its fate. */
  trace: string[];
}

/** Runs one seeded simulation against `sim` (a fresh event and fresh devices), heals, and checks the invariants. */
export async function runSimulation(
  sim: SimServer,
  seed: number,
  opts: SimOptions = DEFAULT_OPTIONS,
): Promise<SimResult> {
  const rng = new Prng(seed);
  const netRng = rng.fork(1);
  const stepRng = rng.fork(2);
  const idRng = rng.fork(3);
  const gateRng = rng.fork(4);
  const sched = new Scheduler(T0);
  sim.use(sched);
  const { admin } = sim.backend;
  const log: string[] = [];
  const stats: Record<string, number> = {};
  const count = (k: string): void => {
    stats[k] = (stats[k] ?? 0) + 1;
  };
  const violations: string[] = [];

  // The event: single-entry, re-entry and 3-entry tickets; fixed dates so the virtual time is inside it.
  const ev: SeededEvent = await seedEvent(admin, '2026-07-01T10:00:00Z', '2026-07-02T10:00:00Z');
  const typeIds = [ev.types.ga, ev.types.reentry, ev.types.multi];
  const tickets = await issueTickets(
    admin,
    ev.eventId,
    Array.from({ length: 12 }, (_, i) => ({ ticket_type_id: typeIds[i % 3] })),
  );
  const ticketTypes = new Map(tickets.map((t, i) => [t.id, typeIds[i % 3]!]));
  const gates = [ev.gates.main, ev.gates.main, ev.gates.any, ev.gates.vip];
  // Drawn up front so the step stream is untouched by them.
  const closeAtStep = gateRng.chance(opts.closeGateRate) ? gateRng.int(0, Math.max(0, opts.steps - 1)) : -1;
  const drawn = gateRng.chance(opts.capacityRate)
    ? { capacity: gateRng.int(1, 4), mode: gateRng.chance(0.5) ? ('warn' as const) : ('enforce' as const) }
    : null;
  // Its own stream, so seeds drawn before it keep their steps, gates and capacities.
  const statusRng = rng.fork(5);
  const blockSteps = statusRng.chance(opts.blockRate ?? 0) ? [statusRng.int(0, Math.max(0, opts.steps - 2))] : [];
  if (blockSteps.length > 0)
    blockSteps.push(statusRng.int(blockSteps[0]! + 1, Math.max(blockSteps[0]! + 1, opts.steps - 1)));
  const blockedTicket = tickets[statusRng.int(0, tickets.length - 1)]!;
  if (opts.zoneCapacity ?? drawn) {
    // Before any device downloads its manifest. Enforce refuses online entries into the full zone (zone_full);
    // offline admissions are never refused for capacity, in either mode, only flagged.
    const { capacity, mode } = (opts.zoneCapacity ?? drawn)!;
    const r = await admin.request('PATCH', `/api/v1/events/${ev.eventId}/zones/${ev.zones.general}`, {
      capacity,
      capacity_mode: mode,
    });
    if (r.status !== 200) throw new Error(`zone capacity: ${r.status} ${JSON.stringify(r.body)}`);
    log.push(`zone General: capacity ${capacity}, ${mode}`);
  }

  const net = new Network(() => sim.backend.server.app, sched, netRng, opts.faults);
  const ackSeen = new Map<number, number>();
  net.onResponse = (device, path, status, body) => {
    if (path !== '/api/v1/offline/sync' || status !== 200) return;
    const acked = (JSON.parse(body) as { acked_through: number }).acked_through;
    const before = ackSeen.get(device) ?? 0;
    if (acked < before)
      violations.push(`device ${device}: acked_through moved back from ${before} to ${acked} (t=${sched.now() - T0})`);
    ackSeen.set(device, Math.max(before, acked));
    count('sync_responses_seen');
  };

  // --- driving the event loop on virtual time ---
  const quiesce = async (): Promise<void> => {
    let idle = 0;
    while (idle < 3) {
      await new Promise((r) => setImmediate(r));
      if (net.busy > 0) {
        idle = 0;
        await net.drain();
      } else idle++;
    }
  };
  /** Until no client waits on the network: fire timers and late deliveries in virtual-time order. */
  const settle = async (): Promise<void> => {
    for (let guard = 0; guard < 100_000; guard++) {
      await quiesce();
      if (net.outstanding === 0) return;
      if (!sched.fireNext()) throw new Error(`stuck: ${net.outstanding} request(s) outstanding, nothing scheduled`);
    }
    throw new Error('settle did not converge');
  };
  const runOp = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    p.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    await settle();
    if (!done) await quiesce();
    if (!done) throw new Error('operation hung with the network quiet');
    return p;
  };
  const advance = async (ms: number): Promise<void> => {
    const target = sched.now() + ms;
    for (;;) {
      const next = sched.nextAt();
      if (next === null || next > target) break;
      sched.fireNext();
      await settle();
    }
    sched.setTime(target);
  };
  const closeGate = async (gateId: string): Promise<void> => {
    // Whatever is in flight lands first, so the server's now is the virtual now when it stamps closed_at.
    await settle();
    const r = await admin.request('PATCH', `/api/v1/events/${ev.eventId}/gates/${gateId}`, { closed: true });
    if (r.status !== 200) throw new Error(`close gate: ${r.status} ${JSON.stringify(r.body)}`);
    count('gates_closed');
    log.push(`t=${sched.now() - T0} gate ${gateId === ev.gates.main ? 'main' : gateId} closed`);
  };

  const setTicketStatus = async (ticketId: string, call: 'block' | 'unblock'): Promise<void> => {
    // As for closing a gate: what is in flight lands first, so the server stamps the change with the virtual now.
    await settle();
    const r = await admin.request('POST', `/api/v1/tickets/${ticketId}/${call}`, { reason: `simulation ${call}` });
    if (r.status !== 200) throw new Error(`${call}: ${r.status} ${JSON.stringify(r.body)}`);
    count(`tickets_${call}ed`);
    log.push(`t=${sched.now() - T0} ticket ${ticketId} ${call}ed`);
  };

  // --- devices ---
  const devices: SimDevice[] = [];
  const boot = async (d: Omit<SimDevice, 'scanner' | 'crash'> & Partial<SimDevice>): Promise<SimDevice> => {
    const crash = crashableStore(d.backing);
    const inc = ++d.incarnation;
    const alive = (): boolean => d.incarnation === inc && !crash.dead;
    const devRng = rng.fork(100 + d.index * 1000 + inc);
    const keys = d.keys;
    d.crash = crash;
    d.scanner = new Scanner({
      store: crash.store,
      baseUrl: SIM_BASE_URL,
      eventId: ev.eventId,
      fetch: net.fetchFor(d.index, alive),
      clock: d.clock,
      random: () => devRng.next(),
      newId: () => idRng.uuid(),
      device: {
        deviceId: d.deviceId,
        token: d.token,
        publicKey: keys.publicKey,
        sign: (m) => ed25519.sign(keys.secretKey, m),
      },
      onlineBudgetMs: 1_500,
      requestTimeoutMs: 5_000,
      probeOnlineEveryMs: 10_000,
      // The simulation decides when each device reaches the server; a background health probe would add unseeded traffic.
      probeConnectivity: false,
    });
    // As the app boots (stored manifest and sync marks), but without the background timer: the simulation triggers syncs.
    await d.scanner.start();
    d.scanner.stop();
    return d as SimDevice;
  };
  for (let i = 0; i < opts.devices; i++) {
    const keyRng = rng.fork(10 + i);
    const keys = ed25519.generateKeyPair((n) => Uint8Array.from({ length: n }, () => keyRng.int(0, 255)));
    const reg = await registerDevice(admin, `Sim ${seed}/${i}`, { public_key: toBase64Url(keys.publicKey) });
    const drawn = rng.int(-opts.maxSkewMs, opts.maxSkewMs);
    const skew = opts.skews?.[i] ?? drawn;
    devices.push(
      await boot({
        index: i,
        ...reg,
        keys,
        backing: memoryBacking(),
        clock: new DeviceClock(sched, skew),
        incarnation: 0,
        restarts: 0,
      }),
    );
    log.push(`device ${i} = ${reg.deviceId} skew ${skew} ms`);
  }
  const restart = async (d: SimDevice, why: string): Promise<void> => {
    d.crash.kill();
    d.restarts++;
    count(`crash_${why}`);
    log.push(`t=${sched.now() - T0} device ${d.index} crashed (${why}), restarting`);
    await boot(d);
  };

  // Every device downloads its manifest first (over a perfect network), except sometimes one that starts blind.
  net.perfect = true;
  const blind = rng.chance(0.2) ? rng.int(0, opts.devices - 1) : -1;
  for (const d of devices) if (d.index !== blind) await runOp(d.scanner.sync.syncNow());
  net.perfect = false;

  // --- the scenario ---
  const outcomes: Array<{ device: number; ticket: string; out: ScanOutcome }> = [];
  if (opts.scenario) {
    await opts.scenario({
      net,
      sched,
      devices,
      tickets: tickets.map((t) => ({ ...t, typeId: ticketTypes.get(t.id)! })),
      event: ev,
      runOp,
      advance,
      closeGate,
      setTicketStatus,
    });
  }
  for (let step = 0; step < (opts.scenario ? 0 : opts.steps); step++) {
    await advance(stepRng.chance(0.05) ? stepRng.int(20_000, 90_000) : stepRng.int(1, 6_000));
    if (step === closeAtStep) await closeGate(ev.gates.main);
    if (step === blockSteps[0]) await setTicketStatus(blockedTicket.id, 'block');
    if (step === blockSteps[1]) await setTicketStatus(blockedTicket.id, 'unblock');
    const d = devices[stepRng.int(0, devices.length - 1)]!;
    const r = stepRng.next();
    if (r < 0.05) {
      const ms = stepRng.int(3_000, 45_000);
      net.partition(d.index, sched.now() + ms);
      count('partitions');
      log.push(`t=${sched.now() - T0} device ${d.index} partitioned for ${ms} ms`);
      continue;
    }
    if (r < 0.07) {
      // The server restarts (a deploy, a crash): what it committed stays, everything it held in memory goes.
      await net.drain();
      await sim.backend.restart();
      count('server_restarts');
      log.push(`t=${sched.now() - T0} server restarted`);
      continue;
    }
    if (r < 0.2) {
      const crashAfterPush = stepRng.chance(opts.crashRate * 3);
      if (crashAfterPush) d.crash.arm('before_ack_commit');
      await runOp(d.scanner.sync.syncNow());
      d.crash.arm(null);
      count('syncs');
      log.push(
        `t=${sched.now() - T0} device ${d.index} sync${crashAfterPush ? ' (crash armed before ack commit)' : ''}: ${d.crash.dead ? 'crashed' : 'done'}`,
      );
      if (d.crash.dead) await restart(d, 'after_push_before_ack');
      continue;
    }
    const ti = stepRng.int(0, tickets.length - 1);
    const t = tickets[ti]!;
    const direction: Direction = stepRng.chance(0.7) ? 'entry' : 'exit';
    const gateId = stepRng.pick(gates);
    const crashBefore = stepRng.chance(opts.crashRate);
    if (crashBefore) d.crash.arm('before_outbox_commit');
    try {
      const out = await runOp(d.scanner.scan(t.code, { gateId, direction }));
      outcomes.push({ device: d.index, ticket: t.id, out });
      count(`scan_${out.source}`);
      log.push(
        `t=${sched.now() - T0} device ${d.index} scan #${ti} ${direction} @${gateId === ev.gates.vip ? 'vip' : gateId === ev.gates.any ? 'any' : 'main'}: ${out.source} ${out.result}/${out.reason}${out.seq ? ` seq ${out.seq}` : ''}`,
      );
    } catch (err) {
      if (!(err instanceof CrashError)) {
        violations.push(`step ${step}: scan threw ${err instanceof Error ? err.stack : String(err)}`);
        break;
      }
      log.push(`t=${sched.now() - T0} device ${d.index} scan #${ti}: crashed before the outbox commit`);
    }
    d.crash.arm(null);
    if (d.crash.dead) await restart(d, 'before_outbox_commit');
    else if (stepRng.chance(opts.crashRate)) await restart(d, 'after_commit_before_push');
  }

  // --- heal: perfect network, every late delivery lands, every device drains its outbox, then pulls the feed ---
  net.healAll();
  while (sched.nextAt() !== null) {
    sched.fireNext();
    await settle();
  }
  await advance(1_000);
  for (let round = 0; round < 5; round++) {
    let pending = 0;
    for (const d of devices) {
      await runOp(d.scanner.sync.syncNow());
      pending += (await d.scanner.status()).pending;
    }
    if (pending === 0) break;
    await advance(1_000);
  }
  await advance(1_000);
  for (const d of devices) await runOp(d.scanner.sync.syncNow());

  const facts: SimFacts = {
    db: sim.backend.db,
    admin,
    eventId: ev.eventId,
    tickets: tickets.map((t) => ({ ...t, typeId: ticketTypes.get(t.id)! })),
    devices: devices.map((d) => ({
      index: d.index,
      deviceId: d.deviceId,
      backing: d.backing,
      ackSeen: ackSeen.get(d.index) ?? 0,
      status: d.scanner.status(),
    })),
    referenceIgnoresClosedAt: opts.referenceIgnoresClosedAt === true,
    referenceIgnoresStatusHistory: opts.referenceIgnoresStatusHistory === true,
    referenceIgnoresCapacity: opts.referenceIgnoresCapacity === true,
  };
  violations.push(...(await checkInvariants(facts)));
  for (const f of net.trace) count(`net_${f.fate}`);
  // How much of issue 14 §2 this seed exercised (the soak prints the totals).
  const [g] = await sim.backend.db.query<{ closed: number; flagged: number; refused: number; full: number }>(
    `SELECT (SELECT count(*)::int FROM conflicts WHERE event_id = $1 AND reason = 'gate_closed') AS closed,
            (SELECT count(*)::int FROM scans WHERE event_id = $1 AND 'over_capacity' = ANY(flags)) AS flagged,
            (SELECT count(*)::int FROM scans WHERE event_id = $1 AND source = 'online' AND reason = 'gate_closed') AS refused,
            (SELECT count(*)::int FROM scans WHERE event_id = $1 AND source = 'online' AND reason = 'zone_full') AS full`,
    [ev.eventId],
  );
  if (g!.closed > 0) stats.gate_closed_conflicts = g!.closed;
  if (g!.refused > 0) stats.gate_closed_online_refusals = g!.refused;
  if (g!.flagged > 0) stats.over_capacity_flags = g!.flagged;
  if (g!.full > 0) stats.zone_full_online_refusals = g!.full;
  stats.scans_committed = 0;
  for (const d of devices) stats.scans_committed += (await d.scanner.status()).ackedThrough;
  const trace = net.trace.map(
    (e) =>
      `t=${e.t - T0} device ${e.device} ${e.method} ${e.path} ${e.fate}${e.status !== undefined ? ` -> ${e.status}` : ''}`,
  );
  return { seed, violations, stats, log, trace };
}
