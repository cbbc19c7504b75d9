import { backoffDelay, Prng, Scanner, type Clock, type FetchLike, type SyncStatus } from '@entrada/client';
import { ed25519, MAX_TICKETS_PER_CALL, toBase64Url } from '@entrada/core';
import type {
  EventSummary,
  IssuedTickets,
  NewGateView,
  OccupancyResponse,
  OfflineHealthResponse,
  RegisteredDevice,
  TicketTypeView,
  ZoneView,
} from '../api-types.ts';
import { CliError } from '../errors.ts';
import { count, perSecond, seconds, table } from '../format.ts';
import { HttpClient, type Connection } from '../http-client.ts';
import type { Output } from '../output.ts';
import { startProgress } from '../progress.ts';
import { planScans, reconnectOffsets } from '../simulate/plan.ts';
import { boundedManifestFetch } from '../simulate/bounded-fetch.ts';
import { manifestPool, nativeVerifier, SimStore } from '../simulate/store.ts';

export const SIMULATE_DEFAULTS = {
  devices: 50,
  tickets: 100_000,
  offlineMinutes: 30,
  overlap: 0.02,
  timeoutS: 600,
  reconnectOverS: 0,
} as const;
const MAX_DEVICES = 1_000;
const MAX_TICKETS = 5_000_000;
const MANIFEST_DOWNLOADS_AT_ONCE = 4;
const HOUR_MS = 3600_000;

export interface SimulateOptions {
  connection: Connection;
  devices?: number;
  tickets?: number;
  offlineMinutes?: number;
  /** Share of tickets scanned by a second device (0 to 1). */
  overlap?: number | string;
  seed?: number;
  /** Give up draining the outboxes after this many seconds. */
  timeoutS?: number;
  /** The devices get the network back over this many seconds (seeded, uniform) instead of all at the same moment. */
  reconnectOverS?: number;
}

export interface SimulateSummary {
  seed: number;
  eventId: string;
  devices: number;
  tickets: number;
  scansMade: number;
  scansAcknowledged: number;
  /** From the server; null when it could not be read. */
  admitted: number | null;
  conflicts: number | null;
  expectedConflicts: number;
  /** From the reconnect until the server had acknowledged every scan (null if it never did). */
  drainMs: number | null;
  /** From the reconnect until every device had its outbox drained and had downloaded the server's state after it. */
  convergeMs: number | null;
  converged: boolean;
  lostScans: number;
  /** Devices whose log on the server (last seq, acknowledged seq, gaps) differs from their outbox. */
  devicesMismatched: number;
  /** Sync cycles that failed and were retried, by cause. */
  syncFailures: Record<string, number>;
  phasesMs: { issue: number; manifests: number; scanning: number };
  /** Distinct ticket maps the devices' manifests needed (1 when every device downloaded the same tickets). */
  manifestCopies: number;
  /** Peak resident memory of this process (MiB). */
  peakRssMb: number;
  exitCode: 0 | 1;
}

interface SimDevice {
  index: number;
  deviceId: string;
  scanner: Scanner;
  store: SimStore;
  /** Device clock while offline; null once back online (real time). */
  stampAt: { value: number | null };
  acked: number;
  lastSeq: number;
  convergedAt: number | null;
  error: string | null;
  /** Sees every status the engine publishes (after each sync cycle). */
  watch: ((status: SyncStatus) => void) | null;
}

function check(cond: boolean, message: string): void {
  if (!cond) throw new CliError(message);
}

function simClock(stamp: { value: number | null }): Clock {
  return {
    now: () => stamp.value ?? Date.now(),
    setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
    clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof globalThis.setTimeout>),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => globalThis.setTimeout(r, ms));

/** A failed sync's cause without its device, cursors and ids, so the same trouble on 50 devices counts as one line. */
export function failureCause(message: string): string {
  return message
    .replace(/\?[^\s]*/g, '')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, ':id');
}

/** The engine's own retry schedule (SyncLoop's default: full jitter from 1 s, doubling, capped at 5 min). */
const ENGINE_BACKOFF = { baseMs: 1_000, capMs: 5 * 60_000 };

async function inBatches<T>(items: readonly T[], atOnce: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(atOnce, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * A whole offline episode against a real server: an event, N devices with
 * Ed25519 keys running the client engine (`Scanner` on an in-memory store whose
 * manifest tickets are shared, see simulate/store.ts), every device downloading
 * the manifest and scanning its seeded share offline over the last M minutes,
 * then all getting the network back (at once, or over `reconnectOverS`) and
 * syncing on their own engine's loop until every device has converged. The
 * summary checks the devices against the server: every scan acknowledged, each
 * device's log on the server equal to its outbox, every ticket admitted once,
 * every double entry exactly one conflict.
 */
export async function runSimulate(opts: SimulateOptions, output: Output): Promise<SimulateSummary> {
  const devicesN = opts.devices ?? SIMULATE_DEFAULTS.devices;
  const ticketsN = opts.tickets ?? SIMULATE_DEFAULTS.tickets;
  const minutes = opts.offlineMinutes ?? SIMULATE_DEFAULTS.offlineMinutes;
  const overlap = opts.overlap === undefined ? SIMULATE_DEFAULTS.overlap : Number(opts.overlap);
  const seed = opts.seed ?? Math.floor(Math.random() * 0x7fffffff);
  const timeoutMs = (opts.timeoutS ?? SIMULATE_DEFAULTS.timeoutS) * 1000;
  const reconnectOverS = opts.reconnectOverS ?? SIMULATE_DEFAULTS.reconnectOverS;
  check(
    Number.isInteger(devicesN) && devicesN >= 1 && devicesN <= MAX_DEVICES,
    `--devices must be a whole number from 1 to ${count(MAX_DEVICES)}, got ${devicesN}`,
  );
  check(
    Number.isInteger(ticketsN) && ticketsN >= 1 && ticketsN <= MAX_TICKETS,
    `--tickets must be a whole number from 1 to ${count(MAX_TICKETS)}, got ${ticketsN}`,
  );
  check(
    Number.isInteger(minutes) && minutes >= 1 && minutes <= 24 * 60,
    `--offline-minutes must be a whole number from 1 to 1440, got ${minutes}`,
  );
  check(
    Number.isFinite(overlap) && overlap >= 0 && overlap <= 1,
    `--overlap must be a number from 0 to 1, got ${String(opts.overlap)}`,
  );
  check(
    Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff,
    `--seed must be a whole number from 0 to 4294967295, got ${seed}`,
  );
  check(
    Number.isInteger(reconnectOverS) && reconnectOverS >= 0 && reconnectOverS * 1000 < timeoutMs,
    `--reconnect-over must be a whole number of seconds below --timeout, got ${reconnectOverS}`,
  );

  const client = new HttpClient(opts.connection, 'admin');
  const rng = new Prng(seed);
  const now = Date.now();
  output.out(
    `Simulating ${count(devicesN)} devices, ${count(ticketsN)} tickets, ${minutes} min offline, overlap ${overlap}, ` +
      `${reconnectOverS === 0 ? 'all reconnecting at once' : `reconnecting over ${reconnectOverS} s`} (seed ${seed}).`,
  );

  // --- the event: one zone, a gate per 10 devices, two single-entry types (so a ticket scanned twice is exactly one conflict) ---
  const event = await client.post<EventSummary>('/api/v1/events', {
    name: `Simulation ${seed}`,
    starts_at: new Date(now - 24 * HOUR_MS - minutes * 60_000).toISOString(),
    ends_at: new Date(now + 24 * HOUR_MS).toISOString(),
    timezone: 'UTC',
    settings: { duplicate_window_s: 300 },
  });
  const path = `/api/v1/events/${event.id}`;
  const zone = await client.post<ZoneView>(`${path}/zones`, { name: 'General', capacity: ticketsN });
  const gates: NewGateView[] = [];
  for (let g = 0; g < Math.ceil(devicesN / 10); g++)
    gates.push(await client.post<NewGateView>(`${path}/gates`, { name: `Gate ${g + 1}`, zone_ids: [zone.id] }));
  const types = [
    await client.post<TicketTypeView>(`${path}/ticket-types`, { name: 'GA', zone_ids: [zone.id] }),
    await client.post<TicketTypeView>(`${path}/ticket-types`, { name: 'GA Late', zone_ids: [zone.id] }),
  ];
  output.out(`Created event "${event.name}" (${event.id}) with ${gates.length} gate(s).`);

  // --- tickets ---
  const codes: string[] = [];
  let started = Date.now();
  const phasesMs = { issue: 0, manifests: 0, scanning: 0 };
  const issuing = startProgress(output, { label: 'Issuing', unit: 'tickets', total: ticketsN, to: 'stdout' });
  try {
    for (let start = 0; start < ticketsN; start += MAX_TICKETS_PER_CALL) {
      const n = Math.min(MAX_TICKETS_PER_CALL, ticketsN - start);
      const batch = Array.from({ length: n }, (_, i) => ({ ticket_type_id: types[(start + i) % types.length]!.id }));
      const { tickets } = await client.post<IssuedTickets>(`${path}/tickets`, { tickets: batch });
      for (const t of tickets) codes.push(t.code);
      issuing.update(start + n);
    }
  } finally {
    issuing.stop();
  }
  phasesMs.issue = Date.now() - started;
  output.out(`Issued ${count(ticketsN)} tickets in ${seconds(phasesMs.issue)}.`);

  // --- devices: seeded Ed25519 keys, registered, each downloading the manifest through the engine ---
  const pool = manifestPool();
  // All devices share one process here: their manifest bodies are held a few at a time (see bounded-fetch.ts).
  const deviceFetch = boundedManifestFetch(
    (url, init) => globalThis.fetch(url, init) as unknown as ReturnType<FetchLike>,
    MANIFEST_DOWNLOADS_AT_ONCE,
  );
  const syncFailures: Record<string, number> = {};
  const noteFailure = (st: SyncStatus): void => {
    if (!st.lastError) return;
    const cause = failureCause(st.lastError.message);
    syncFailures[cause] = (syncFailures[cause] ?? 0) + 1;
  };
  const devices: SimDevice[] = [];
  let ackedTotal = 0;
  let onAck: () => void = () => undefined;
  for (let i = 0; i < devicesN; i++) {
    const keyRng = rng.fork(10 + i);
    const keys = ed25519.generateKeyPair((n) => keyRng.bytes(n));
    const reg = await client.post<RegisteredDevice>('/api/v1/devices', {
      name: `Sim ${seed}/${i + 1}`,
      public_key: toBase64Url(keys.publicKey),
    });
    const stampAt = { value: null as number | null };
    const idRng = rng.fork(1000 + i);
    const device: SimDevice = {
      index: i,
      deviceId: reg.device_id,
      stampAt,
      acked: 0,
      lastSeq: 0,
      convergedAt: null,
      error: null,
      watch: null,
      store: new SimStore(pool, (through) => {
        ackedTotal += through - device.acked;
        device.acked = through;
        onAck();
      }),
      scanner: null as unknown as Scanner,
    };
    device.scanner = new Scanner({
      store: device.store,
      baseUrl: client.baseUrl,
      eventId: event.id,
      clock: simClock(stampAt),
      random: () => idRng.next(),
      verify: nativeVerifier,
      fetch: deviceFetch,
      onStatus: (st) => device.watch?.(st),
      // This command triggers every request itself; a background health probe per device would only add load.
      probeConnectivity: false,
      device: {
        deviceId: reg.device_id,
        token: reg.token,
        publicKey: keys.publicKey,
        sign: (m) => ed25519.sign(keys.secretKey, m),
      },
    });
    devices.push(device);
  }
  started = Date.now();
  const downloading = startProgress(output, { label: 'Manifests', unit: 'devices', total: devicesN, to: 'stdout' });
  let downloaded = 0;
  try {
    const deadline = Date.now() + timeoutMs;
    await inBatches(devices, MANIFEST_DOWNLOADS_AT_ONCE, async (d) => {
      // As the app boots, but without the background timer: this command triggers every sync itself.
      await d.scanner.start();
      d.scanner.stop();
      // Retried as the engine's timer would (a slow server times a download out); a refusal is final.
      for (let attempt = 0; ; attempt++) {
        await d.scanner.sync.syncNow();
        const st = await d.scanner.status();
        if (d.scanner.hasManifest && !st.lastError) break;
        noteFailure(st);
        if (st.lastError?.retryable === false || Date.now() >= deadline) {
          throw new CliError(
            `device ${d.index + 1} could not download the manifest: ${st.lastError?.message ?? 'unknown error'}`,
          );
        }
        await sleep(backoffDelay(attempt, Math.random, ENGINE_BACKOFF));
      }
      downloading.update(++downloaded);
    });
  } finally {
    downloading.stop();
  }
  phasesMs.manifests = Date.now() - started;
  output.out(
    `Registered ${count(devicesN)} devices; each downloaded the manifest (${seconds(phasesMs.manifests)}, ${pool.stats.built === 1 ? 'one ticket map shared by all' : `${count(pool.stats.built)} distinct ticket maps`}).`,
  );

  // --- offline: every device scans its share, stamped over the last M minutes ---
  const windowEnd = Date.now();
  const plan = planScans(seed, ticketsN, devicesN, overlap, windowEnd, minutes * 60_000);
  started = Date.now();
  let localRefusals = 0;
  let scanned = 0;
  const scanning = startProgress(output, { label: 'Scanning offline', unit: 'scans', total: plan.scans, to: 'stdout' });
  try {
    for (const d of devices) {
      const gateId = gates[d.index % gates.length]!.id;
      for (const s of plan.perDevice[d.index]!) {
        d.stampAt.value = s.at;
        const out = await d.scanner.scanOffline(codes[s.ticket]!, { gateId, direction: 'entry' });
        if (out.result !== 'valid') localRefusals++;
        d.lastSeq = out.seq ?? d.lastSeq;
        scanned++;
        if (scanned % 1000 === 0) scanning.update(scanned);
      }
    }
    scanning.update(scanned);
  } finally {
    scanning.stop();
  }
  phasesMs.scanning = Date.now() - started;
  output.out(
    `Made ${count(plan.scans)} offline scans in ${seconds(phasesMs.scanning)} (${count(plan.overlapping)} tickets on two devices).`,
  );
  if (localRefusals > 0)
    output.err(
      `warning: ${count(localRefusals)} offline scan(s) were refused locally; expected conflicts assume every scan admits.`,
    );

  // --- reconnect: the network is back for every device at once (or over --reconnect-over). Each engine syncs on its own from here, as in the
  // app: its loop starts a cycle (upload, then download) at once, retries failures on its own backoff (honouring
  // Retry-After) and uploads again while scans are pending. A device has converged when its outbox is drained and a
  // whole cycle went through after that, so it also holds the server's state.
  for (const d of devices) d.stampAt.value = null;
  const reconnectAt = Date.now();
  const offsets = reconnectOffsets(seed, devicesN, reconnectOverS * 1000);
  const reconnecting: Array<ReturnType<typeof globalThis.setTimeout>> = [];
  const syncing = startProgress(output, {
    label: 'Syncing',
    unit: 'scans acknowledged',
    total: plan.scans,
    to: 'stdout',
  });
  let drainedAt: number | null = null;
  onAck = () => {
    syncing.update(ackedTotal);
    if (ackedTotal >= plan.scans && drainedAt === null) drainedAt = Date.now();
  };
  try {
    await new Promise<void>((resolve) => {
      let open = devices.length;
      const finish = (d: SimDevice): void => {
        d.watch = null;
        d.scanner.stop();
        if (--open === 0) {
          globalThis.clearTimeout(giveUp);
          resolve();
        }
      };
      const giveUp = globalThis.setTimeout(() => {
        for (const t of reconnecting) globalThis.clearTimeout(t);
        for (const d of devices) {
          if (d.watch === null) continue;
          d.error = `not converged after ${seconds(timeoutMs)}: ${d.acked}/${d.lastSeq} acknowledged${d.acked === d.lastSeq ? ', last sync failed' : ''}`;
          finish(d);
        }
      }, timeoutMs);
      for (const d of devices) {
        d.watch = (st) => {
          if (st.syncing) return;
          if (st.lastError) {
            noteFailure(st);
            if (!st.lastError.retryable) {
              d.error = st.lastError.message;
              finish(d);
            }
            return;
          }
          if (st.pending === 0 && st.ackedThrough === d.lastSeq) {
            d.convergedAt = Date.now();
            finish(d);
          }
        };
        const offset = offsets[d.index]!;
        if (offset === 0) void d.scanner.sync.start();
        else reconnecting.push(globalThis.setTimeout(() => void d.scanner.sync.start(), offset));
      }
    });
  } finally {
    onAck = () => undefined;
    syncing.stop();
  }
  const converged = devices.every((d) => d.convergedAt !== null);
  const convergeMs = converged ? Math.max(...devices.map((d) => d.convergedAt!)) - reconnectAt : null;
  const drainMs = drainedAt === null ? null : (drainedAt as number) - reconnectAt;

  // --- what the devices were told and what the server says ---
  let scansMade = 0;
  let acknowledged = 0;
  for (const d of devices) {
    const st = await d.scanner.status();
    acknowledged += st.ackedThrough;
    scansMade += (await d.store.counts(event.id)).lastSeq;
  }
  // The server's verdict of record: an upload's ack can say "synced" for a scan an earlier one from another device later beats.
  // Read even when the run failed; if the server is gone (it may have crashed under the load), say so and keep the device side.
  let server: { admitted: number; health: OfflineHealthResponse } | null = null;
  let serverError: string | null = null;
  try {
    const { admitted } = await client.get<OccupancyResponse>(`${path}/occupancy`);
    server = { admitted, health: await client.get<OfflineHealthResponse>(`${path}/offline-health`) };
  } catch (err) {
    serverError = err instanceof Error ? err.message : String(err);
  }
  const conflicts = server ? server.health.totals.conflicts_open + server.health.totals.conflicts_resolved : null;
  const missingOnServer = server?.health.totals.missing_scans ?? null;
  const lostScans = scansMade - acknowledged;
  // Each device's log on the server must be exactly its outbox: same last seq, all of it acknowledged, no gap.
  const onServer = new Map((server?.health.devices ?? []).map((h) => [h.device_id, h]));
  const mismatched = server
    ? devices.filter((d) => {
        const h = onServer.get(d.deviceId);
        return !h || h.last_seq !== d.lastSeq || h.acked_through !== d.lastSeq || h.missing_count !== 0;
      })
    : [];
  // Every ticket admitted exactly once (none lost, none counted twice) and every second scan exactly one conflict.
  const exitCode: 0 | 1 =
    server &&
    converged &&
    lostScans === 0 &&
    missingOnServer === 0 &&
    mismatched.length === 0 &&
    server.admitted === ticketsN &&
    conflicts === plan.overlapping
      ? 0
      : 1;
  const failedSyncs = Object.values(syncFailures).reduce((a, b) => a + b, 0);
  const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  const fromServer = (v: string): string => (server ? v : 'unknown (server not reachable)');

  output.out('');
  for (const line of table(
    ['Simulation', ''],
    [
      ['Devices', count(devicesN)],
      ['Tickets', count(ticketsN)],
      ['Scans made', count(scansMade)],
      ['Scans acknowledged', count(acknowledged)],
      ['Admitted', fromServer(`${count(server?.admitted ?? 0)} tickets`)],
      ['Conflicts', fromServer(count(conflicts ?? 0))],
      ['Expected conflicts', count(plan.overlapping)],
      ['Device logs matching the server', fromServer(`${count(devicesN - mismatched.length)}/${count(devicesN)}`)],
      ['Failed syncs (retried)', count(failedSyncs)],
      ['All scans acknowledged after', drainMs === null ? 'never' : seconds(drainMs)],
      ['Time to converge', convergeMs === null ? 'did not converge' : seconds(convergeMs)],
      ['Scans/s', drainMs === null ? '-' : perSecond(acknowledged, drainMs)],
      [
        'Issue / manifests / offline scans',
        `${seconds(phasesMs.issue)} / ${seconds(phasesMs.manifests)} / ${seconds(phasesMs.scanning)}`,
      ],
      ['Peak memory (this process)', `${count(peakRssMb)} MiB`],
      ['Event', event.id],
      ['Seed', String(seed)],
    ],
  ))
    output.out(line);
  output.out('');
  for (const d of devices) if (d.error) output.err(`device ${d.index + 1} (${d.deviceId}): ${d.error}`);
  for (const [cause, n] of Object.entries(syncFailures)) output.out(`Failed sync, retried (${count(n)}×): ${cause}`);
  if (serverError !== null) output.err(`The server's figures could not be read: ${serverError}`);
  for (const d of mismatched) {
    const h = onServer.get(d.deviceId);
    output.err(
      `device ${d.index + 1} (${d.deviceId}): outbox ends at seq ${d.lastSeq}; the server has ${h ? `last seq ${h.last_seq}, acknowledged through ${h.acked_through}, ${h.missing_count} missing` : 'no log'}.`,
    );
  }
  if (server && server.admitted !== ticketsN)
    output.err(`${count(server.admitted)} ticket(s) admitted on the server, ${count(ticketsN)} expected.`);
  if (conflicts !== null && conflicts !== plan.overlapping)
    output.err(`${count(conflicts)} conflict(s) on the server, ${count(plan.overlapping)} expected.`);
  if (exitCode === 0)
    output.out(
      `Converged: every scan acknowledged, none lost, none duplicated, every double entry one conflict. Replay with --seed ${seed}.`,
    );
  else if (!converged || lostScans > 0 || (missingOnServer ?? 0) > 0) {
    output.err(
      `Not converged: ${count(lostScans)} scan(s) not acknowledged${missingOnServer === null ? '' : `, ${count(missingOnServer)} missing on the server`}. Replay with --seed ${seed}.`,
    );
  } else output.err(`Converged, but the server's figures differ from the plan (above). Replay with --seed ${seed}.`);

  for (const d of devices) d.scanner.stop();
  return {
    seed,
    eventId: event.id,
    devices: devicesN,
    tickets: ticketsN,
    scansMade,
    scansAcknowledged: acknowledged,
    admitted: server?.admitted ?? null,
    conflicts,
    expectedConflicts: plan.overlapping,
    drainMs,
    convergeMs,
    converged,
    lostScans,
    devicesMismatched: mismatched.length,
    syncFailures,
    phasesMs,
    manifestCopies: pool.stats.built,
    peakRssMb,
    exitCode,
  };
}
