import { Scanner, type Clock } from '@entrada/client';
import { ed25519, MAX_TICKETS_PER_CALL, toBase64Url } from '@entrada/core';
import type { EventSummary, IssuedTicket } from '../api-types.ts';
import { CliError } from '../errors.ts';
import { count, perSecond, seconds, table } from '../format.ts';
import { HttpClient, type Connection } from '../http-client.ts';
import type { Output } from '../output.ts';
import { startProgress } from '../progress.ts';
import { planScans } from '../simulate/plan.ts';
import { Prng } from '@entrada/client';
import { nativeVerifier, SimStore, type ManifestPool } from '../simulate/store.ts';

export const SIMULATE_DEFAULTS = { devices: 50, tickets: 100_000, offlineMinutes: 30, overlap: 0.02, timeoutS: 600 } as const;
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
}

export interface SimulateSummary {
  seed: number;
  eventId: string;
  devices: number;
  tickets: number;
  scansMade: number;
  scansAcknowledged: number;
  admitted: number;
  conflicts: number;
  expectedConflicts: number;
  convergeMs: number | null;
  converged: boolean;
  lostScans: number;
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
}

interface Created { id: string; name: string }

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

async function inBatches<T>(items: readonly T[], atOnce: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(atOnce, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/**
 * A whole offline episode against a real server: an event, N devices with
 * Ed25519 keys running the client engine (`Scanner` on an in-memory store),
 * every device scanning its seeded share offline over the last M minutes, then
 * all reconnecting at once and syncing until every outbox is drained.
 */
export async function runSimulate(opts: SimulateOptions, output: Output): Promise<SimulateSummary> {
  const devicesN = opts.devices ?? SIMULATE_DEFAULTS.devices;
  const ticketsN = opts.tickets ?? SIMULATE_DEFAULTS.tickets;
  const minutes = opts.offlineMinutes ?? SIMULATE_DEFAULTS.offlineMinutes;
  const overlap = opts.overlap === undefined ? SIMULATE_DEFAULTS.overlap : Number(opts.overlap);
  const seed = opts.seed ?? Math.floor(Math.random() * 0x7fffffff);
  const timeoutMs = (opts.timeoutS ?? SIMULATE_DEFAULTS.timeoutS) * 1000;
  check(Number.isInteger(devicesN) && devicesN >= 1 && devicesN <= MAX_DEVICES, `--devices must be a whole number from 1 to ${count(MAX_DEVICES)}, got ${devicesN}`);
  check(Number.isInteger(ticketsN) && ticketsN >= 1 && ticketsN <= MAX_TICKETS, `--tickets must be a whole number from 1 to ${count(MAX_TICKETS)}, got ${ticketsN}`);
  check(Number.isInteger(minutes) && minutes >= 1 && minutes <= 24 * 60, `--offline-minutes must be a whole number from 1 to 1440, got ${minutes}`);
  check(Number.isFinite(overlap) && overlap >= 0 && overlap <= 1, `--overlap must be a number from 0 to 1, got ${String(opts.overlap)}`);
  check(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff, `--seed must be a whole number from 0 to 4294967295, got ${seed}`);

  const client = new HttpClient(opts.connection, 'admin');
  const rng = new Prng(seed);
  const now = Date.now();
  output.out(`Simulating ${count(devicesN)} devices, ${count(ticketsN)} tickets, ${minutes} min offline, overlap ${overlap} (seed ${seed}).`);

  // --- the event: one zone, a gate per 10 devices, two single-entry types (so a ticket scanned twice is exactly one conflict) ---
  const event = await client.post<EventSummary>('/api/v1/events', {
    name: `Simulation ${seed}`, starts_at: new Date(now - 24 * HOUR_MS - minutes * 60_000).toISOString(), ends_at: new Date(now + 24 * HOUR_MS).toISOString(),
    timezone: 'UTC', settings: { duplicate_window_s: 300 },
  });
  const path = `/api/v1/events/${event.id}`;
  const zone = await client.post<Created>(`${path}/zones`, { name: 'General', capacity: ticketsN });
  const gates: Created[] = [];
  for (let g = 0; g < Math.ceil(devicesN / 10); g++) gates.push(await client.post<Created>(`${path}/gates`, { name: `Gate ${g + 1}`, zone_ids: [zone.id] }));
  const types = [
    await client.post<Created>(`${path}/ticket-types`, { name: 'GA', zone_ids: [zone.id] }),
    await client.post<Created>(`${path}/ticket-types`, { name: 'GA Late', zone_ids: [zone.id] }),
  ];
  output.out(`Created event "${event.name}" (${event.id}) with ${gates.length} gate(s).`);

  // --- tickets ---
  const codes: string[] = [];
  let started = Date.now();
  const issuing = startProgress(output, { label: 'Issuing', unit: 'tickets', total: ticketsN, to: 'stdout' });
  try {
    for (let start = 0; start < ticketsN; start += MAX_TICKETS_PER_CALL) {
      const n = Math.min(MAX_TICKETS_PER_CALL, ticketsN - start);
      const batch = Array.from({ length: n }, (_, i) => ({ ticket_type_id: types[(start + i) % types.length]!.id }));
      const { tickets } = await client.post<{ tickets: IssuedTicket[] }>(`${path}/tickets`, { tickets: batch });
      for (const t of tickets) codes.push(t.code);
      issuing.update(start + n);
    }
  } finally {
    issuing.stop();
  }
  output.out(`Issued ${count(ticketsN)} tickets in ${seconds(Date.now() - started)}.`);

  // --- devices: seeded Ed25519 keys, registered, each downloading the manifest through the engine ---
  const pool: ManifestPool = { cursor: null, tickets: null };
  const devices: SimDevice[] = [];
  let ackedTotal = 0;
  let onAck: () => void = () => undefined;
  for (let i = 0; i < devicesN; i++) {
    const keyRng = rng.fork(10 + i);
    const keys = ed25519.generateKeyPair((n) => keyRng.bytes(n));
    const reg = await client.post<{ device_id: string; token: string }>('/api/v1/devices', { name: `Sim ${seed}/${i + 1}`, public_key: toBase64Url(keys.publicKey) });
    const stampAt = { value: null as number | null };
    const idRng = rng.fork(1000 + i);
    const device: SimDevice = {
      index: i, deviceId: reg.device_id, stampAt, acked: 0, lastSeq: 0, convergedAt: null, error: null,
      store: new SimStore(pool, (through) => {
        ackedTotal += through - device.acked;
        device.acked = through;
        onAck();
      }),
      scanner: null as unknown as Scanner,
    };
    device.scanner = new Scanner({
      store: device.store, baseUrl: client.baseUrl, eventId: event.id, clock: simClock(stampAt), random: () => idRng.next(), verify: nativeVerifier,
      device: { deviceId: reg.device_id, token: reg.token, publicKey: keys.publicKey, sign: (m) => ed25519.sign(keys.secretKey, m) },
    });
    devices.push(device);
  }
  started = Date.now();
  const downloading = startProgress(output, { label: 'Manifests', unit: 'devices', total: devicesN, to: 'stdout' });
  let downloaded = 0;
  try {
    await inBatches(devices, MANIFEST_DOWNLOADS_AT_ONCE, async (d) => {
      // As the app boots, but without the background timer: this command triggers every sync itself.
      await d.scanner.start();
      d.scanner.stop();
      await d.scanner.sync.syncNow();
      const st = await d.scanner.status();
      if (!d.scanner.hasManifest) throw new CliError(`device ${d.index + 1} could not download the manifest: ${st.lastError?.message ?? 'unknown error'}`);
      downloading.update(++downloaded);
    });
  } finally {
    downloading.stop();
  }
  output.out(`Registered ${count(devicesN)} devices; each downloaded the manifest (${seconds(Date.now() - started)}).`);

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
  output.out(`Made ${count(plan.scans)} offline scans in ${seconds(Date.now() - started)} (${count(plan.overlapping)} tickets on two devices).`);
  if (localRefusals > 0) output.err(`warning: ${count(localRefusals)} offline scan(s) were refused locally; expected conflicts assume every scan admits.`);

  // --- reconnect: all devices at once, syncing until every outbox is drained ---
  for (const d of devices) d.stampAt.value = null;
  const reconnectAt = Date.now();
  const deadline = reconnectAt + timeoutMs;
  const syncing = startProgress(output, { label: 'Syncing', unit: 'scans acknowledged', total: plan.scans, to: 'stdout' });
  onAck = () => syncing.update(ackedTotal);
  try {
    await Promise.all(devices.map(async (d) => {
      for (let attempt = 0; ; ) {
        await d.scanner.sync.syncNow();
        const st = await d.scanner.status();
        if (st.pending === 0 && st.ackedThrough === d.lastSeq) {
          d.convergedAt = Date.now();
          return;
        }
        if (st.lastError && !st.lastError.retryable) {
          d.error = st.lastError.message;
          return;
        }
        if (st.lastError) attempt++; else attempt = 0;
        if (Date.now() >= deadline) {
          d.error = st.lastError?.message ?? `still ${st.pending} scan(s) pending`;
          return;
        }
        // A failed sync backs off with jitter so the devices do not retry in lockstep; progress goes on at once.
        if (attempt > 0) await sleep(Math.min(5_000, 250 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2));
      }
    }));
  } finally {
    onAck = () => undefined;
    syncing.stop();
  }
  const converged = devices.every((d) => d.convergedAt !== null);
  const convergeMs = converged ? Math.max(...devices.map((d) => d.convergedAt!)) - reconnectAt : null;

  // --- what the devices were told and what the server says ---
  let scansMade = 0;
  let acknowledged = 0;
  for (const d of devices) {
    const st = await d.scanner.status();
    acknowledged += st.ackedThrough;
    scansMade += (await d.store.counts(event.id)).lastSeq;
  }
  // The server's verdict of record: an upload's ack can say "synced" for a scan an earlier one from another device later beats.
  const { admitted } = await client.get<{ admitted: number }>(`${path}/occupancy`);
  const health = await client.get<{ totals: { conflicts_open: number; conflicts_resolved: number; missing_scans: number } }>(`${path}/offline-health`);
  const conflicts = health.totals.conflicts_open + health.totals.conflicts_resolved;
  const lostScans = scansMade - acknowledged;
  const exitCode: 0 | 1 = converged && lostScans === 0 && health.totals.missing_scans === 0 ? 0 : 1;

  output.out('');
  for (const line of table(['Simulation', ''], [
    ['Devices', count(devicesN)],
    ['Tickets', count(ticketsN)],
    ['Scans made', count(scansMade)],
    ['Scans acknowledged', count(acknowledged)],
    ['Admitted', `${count(admitted)} tickets`],
    ['Conflicts', count(conflicts)],
    ['Expected conflicts', count(plan.overlapping)],
    ['Time to converge', convergeMs === null ? 'did not converge' : seconds(convergeMs)],
    ['Scans/s', convergeMs === null ? '-' : perSecond(acknowledged, convergeMs)],
    ['Event', event.id],
    ['Seed', String(seed)],
  ])) output.out(line);
  output.out('');
  for (const d of devices) if (d.error) output.err(`device ${d.index + 1} (${d.deviceId}): ${d.error}`);
  if (conflicts !== plan.overlapping) output.err(`warning: ${count(conflicts)} conflict(s) on the server, ${count(plan.overlapping)} expected.`);
  if (exitCode === 0) output.out(`Converged: every scan acknowledged, none lost. Replay with --seed ${seed}.`);
  else output.err(`Not converged: ${count(lostScans)} scan(s) not acknowledged, ${count(health.totals.missing_scans)} missing on the server. Replay with --seed ${seed}.`);

  for (const d of devices) d.scanner.stop();
  return {
    seed, eventId: event.id, devices: devicesN, tickets: ticketsN, scansMade, scansAcknowledged: acknowledged, admitted, conflicts,
    expectedConflicts: plan.overlapping, convergeMs, converged, lostScans, exitCode,
  };
}
