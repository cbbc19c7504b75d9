/**
 * Seed 004's recovery procedures from the command line (docs/operations.md):
 * `entrada offline import FILE` uploads a scanner's exported scan log,
 * `entrada devices export-log` writes what the server holds of one device's
 * scans at an event, and `entrada devices clock` lists the devices' clock
 * offsets as the server measured them, flagging skew. `json: true` prints the
 * answer as JSON for scripts; people get a summary or a table with times in
 * the event's time zone.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type {
  DeviceLogImportResponse,
  EventDetail,
  FeedPage,
  FeedScanEvent,
  OfflineHealthResponse,
  SyncStatusResponse,
} from '../api-types.ts';
import { ApiError, CliError } from '../errors.ts';
import { fetchEvent } from '../events-api.ts';
import { count, plural, table } from '../format.ts';
import { HttpClient, type Connection } from '../http-client.ts';
import type { Output } from '../output.ts';
import { localTime } from './setup.ts';

interface Base {
  connection: Connection;
  json?: boolean | undefined;
}

const DEVICE_LOG_FORMAT = 'entrada/device-log/v1';
/** The server flags a device clock off by more than this (sync-service's SKEW_FLAG_MS): the same line here. */
export const SKEW_FLAG_MS = 60_000;
/** The server's limit per import call (MAX_IMPORT_SCANS) is checked there; this only avoids reading absurd files into memory. */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

/** `entrada offline import FILE`: a scanner's exported scan log (Sync → Export unsent scans), stored as if the device had synced. */
export async function importDeviceLog(opts: Base & { file: string }, output: Output): Promise<DeviceLogImportResponse> {
  let text: string;
  try {
    const buf = await readFile(opts.file);
    if (buf.length > MAX_FILE_BYTES)
      throw new CliError(
        `${opts.file} is larger than 64 MB; a scanner's export is far smaller — is it the right file?`,
      );
    text = buf.toString('utf8');
  } catch (err) {
    if (err instanceof CliError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      code === 'ENOENT'
        ? `no file ${opts.file}: give the path of the scanner's exported scan log (entrada-scans-….json)`
        : `cannot read ${opts.file}: ${(err as Error).message}`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new CliError(
      `${opts.file} is not JSON; export the log again from the scanner app (tap the status bar → Export unsent scans) and import that file unchanged`,
    );
  }
  const format = typeof doc === 'object' && doc !== null ? (doc as { format?: unknown }).format : undefined;
  if (format !== DEVICE_LOG_FORMAT) {
    throw new CliError(
      `${opts.file} is not a scanner's exported scan log (format "${String(format)}", expected "${DEVICE_LOG_FORMAT}"); ` +
        'export it from the scanner app (tap the status bar → Export unsent scans)',
    );
  }
  const client = new HttpClient(opts.connection, 'admin');
  let answer: DeviceLogImportResponse;
  try {
    answer = await client.post<DeviceLogImportResponse>('/api/v1/offline/import', doc);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      throw new CliError(
        `the device or event of ${opts.file} is not in this organisation (${err.code}): check --url and the admin token, and \`entrada devices list\``,
      );
    }
    throw err;
  }
  if (opts.json) {
    output.out(JSON.stringify(answer, null, 2));
    return answer;
  }
  const s = answer.summary;
  output.out(
    `Imported ${plural(s.total_uploaded, 'scan')} of device ${answer.device_id} (${answer.device_status}) at event ${answer.event_id}:`,
  );
  // The server counts conflicts in failed (seed 001's arithmetic: stored + already there + failed = uploaded).
  output.out(
    `  ${count(s.successful)} stored, ${count(s.duplicates)} already there, ${count(s.failed)} failed (${count(s.conflicts)} of them conflicts)`,
  );
  output.out(
    `  integrity: ${answer.integrity === 'chain' ? 'hash chain and device signature verified' : answer.integrity === 'unsigned' ? 'device has no key (not verified)' : `FAILED — ${answer.integrity_problem ?? 'see --json'}; scans are stored flagged for review`}`,
  );
  output.out(
    `  server now holds seq 1–${answer.acked_through} contiguously${answer.missing.length > 0 ? `; still missing: ${ranges(answer.missing)}` : ''}`,
  );
  if (answer.conflicts_and_failures.length > 0)
    output.out(
      `Review the conflicts in the console, or: entrada offline import ${opts.file} --json | jq '.conflicts_and_failures'`,
    );
  return answer;
}

export interface ServerDeviceLog {
  format: 'entrada/server-device-log/v1';
  event_id: string;
  device_id: string;
  exported_at: string;
  /** The device's marks as the server keeps them; null when it never uploaded (online scans only). */
  sync: { last_seq: number; acked_through: number; missing: Array<[number, number]> } | null;
  scans: Array<{
    seq: number | null;
    scan_id: string;
    scanned_at: string | null;
    direction: string;
    gate_id: string | null;
    verdict: string;
    result: string;
    reason: string;
    conflict_reason: string | null;
  }>;
}

/**
 * `entrada devices export-log`: every scan of one device at an event as the
 * server holds it (offline uploads and online scans, with the verdict each has
 * now), read from the event's change feed — so it compares against a
 * device's own export after a recovery.
 */
export async function exportServerLog(
  opts: Base & { eventId: string; deviceId: string; out?: string | undefined },
  output: Output,
): Promise<ServerDeviceLog> {
  const client = new HttpClient(opts.connection, 'admin');
  const event = await fetchEvent(client, opts.eventId);
  const byId = new Map<string, FeedScanEvent>();
  let since: string | null = null;
  for (;;) {
    const page: FeedPage = await client.get<FeedPage>(
      `/api/v1/offline/events?event_id=${event.id}&limit=5000${since ? `&since=${encodeURIComponent(since)}` : ''}`,
    );
    // A scan appears again when its verdict changes (revision): the latest is what the server holds now.
    for (const e of page.events) if (e.kind === 'scan' && e.device_id === opts.deviceId) byId.set(e.scan_id, e);
    since = page.next_cursor;
    if (!page.has_more) break;
  }
  let sync: ServerDeviceLog['sync'] = null;
  try {
    const st = await client.get<SyncStatusResponse>(
      `/api/v1/offline/sync/status/${event.id}/${encodeURIComponent(opts.deviceId)}`,
    );
    sync = { last_seq: st.last_seq, acked_through: st.acked_through, missing: st.missing };
  } catch (err) {
    // A device that never uploaded has no sync state (older servers answer 404 for it); its online scans are still listed.
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  const scans = [...byId.values()].sort(
    (a, b) => (a.seq ?? Infinity) - (b.seq ?? Infinity) || String(a.scanned_at).localeCompare(String(b.scanned_at)),
  );
  if (scans.length === 0 && sync === null) {
    throw new CliError(
      `the server holds no scans of device "${opts.deviceId}" at ${event.name}; check the id with \`entrada devices list\` (ids are case-sensitive)`,
    );
  }
  const log: ServerDeviceLog = {
    format: 'entrada/server-device-log/v1',
    event_id: event.id,
    device_id: opts.deviceId,
    exported_at: new Date().toISOString(),
    sync,
    scans: scans.map((s) => ({
      seq: s.seq,
      scan_id: s.scan_id,
      scanned_at: s.scanned_at,
      direction: s.direction,
      gate_id: s.gate_id,
      verdict: s.verdict,
      result: s.result,
      reason: s.reason,
      conflict_reason: s.conflict_reason ?? null,
    })),
  };
  if (opts.out) {
    try {
      await writeFile(opts.out, JSON.stringify(log, null, 2) + '\n');
    } catch (err) {
      throw new CliError(`cannot write ${opts.out}: ${(err as Error).message}`);
    }
  }
  if (opts.json && !opts.out) {
    output.out(JSON.stringify(log, null, 2));
    return log;
  }
  const offline = log.scans.filter((s) => s.seq !== null).length;
  const summary =
    `${plural(log.scans.length, 'scan')} of device ${opts.deviceId} at ${event.name} (${count(offline)} uploaded offline, ${count(log.scans.length - offline)} online)` +
    (sync
      ? `; seq 1–${sync.acked_through} complete${sync.missing.length > 0 ? `, missing ${ranges(sync.missing)}` : ''}`
      : '; never synced');
  if (opts.out) {
    output.out(`Wrote ${summary} to ${opts.out}`);
    return log;
  }
  const gate = gateNamer(event);
  const rows = log.scans.map((s) => [
    s.seq === null ? 'online' : String(s.seq),
    localTime(s.scanned_at, event.timezone),
    s.direction,
    gate(s.gate_id),
    s.verdict,
    s.conflict_reason ?? s.reason,
  ]);
  for (const line of table(['SEQ', `TIME (${event.timezone})`, 'DIR', 'GATE', 'VERDICT', 'REASON'], rows))
    output.out(line);
  output.out(summary);
  return log;
}

export interface DeviceBacklog {
  device_id: string;
  name: string;
  status: string;
  waiting: number | null;
  missing: number;
  last_success_at: string | null;
  last_seen_at: string | null;
  flags: string[];
}

/**
 * `entrada devices status`: seed 004's triage of a mass offline recovery —
 * each device's backlog (scans it reported still waiting to upload, and seqs
 * missing on the server), biggest first, then the longest unsynced; with the
 * event's offline alerts.
 */
export async function deviceBacklog(opts: Base & { eventId: string }, output: Output): Promise<DeviceBacklog[]> {
  const client = new HttpClient(opts.connection, 'admin');
  const event = await fetchEvent(client, opts.eventId);
  const health = await client.get<OfflineHealthResponse>(`/api/v1/events/${event.id}/offline-health`);
  const rows: DeviceBacklog[] = health.devices.map((d) => ({
    device_id: d.device_id,
    name: d.name,
    status: d.status,
    waiting: d.upload_lag,
    missing: d.missing_count,
    last_success_at: d.last_success_at,
    last_seen_at: d.last_seen_at,
    flags: d.flags,
  }));
  const backlog = (d: DeviceBacklog): number => (d.waiting ?? 0) + d.missing;
  rows.sort(
    (a, b) => backlog(b) - backlog(a) || String(a.last_success_at ?? '').localeCompare(String(b.last_success_at ?? '')),
  );
  if (opts.json) {
    output.out(
      JSON.stringify(
        { event_id: event.id, devices: rows, alerts: health.alerts, conflicts_open: health.totals.conflicts_open },
        null,
        2,
      ),
    );
    return rows;
  }
  if (rows.length === 0) {
    output.out(`No device has synced or scanned at ${event.name} yet.`);
    return rows;
  }
  const table_ = rows.map((d) => [
    d.device_id,
    d.name,
    d.status,
    d.waiting === null ? '?' : count(d.waiting),
    count(d.missing),
    localTime(d.last_success_at, event.timezone) || 'never',
    d.flags.join(',') || '',
  ]);
  for (const line of table(
    ['DEVICE ID', 'NAME', 'STATUS', 'WAITING', 'MISSING', `LAST SYNC (${event.timezone})`, 'FLAGS'],
    table_,
  ))
    output.out(line);
  output.out(
    `${plural(rows.filter((d) => backlog(d) > 0).length, 'device')} with scans not on the server; ${plural(health.totals.conflicts_open, 'open conflict')}.`,
  );
  for (const a of health.alerts) output.out(`${a.severity === 'critical' ? 'CRITICAL' : 'warning '}  ${a.message}`);
  return rows;
}

export interface DeviceClock {
  device_id: string;
  name: string;
  clock_offset_ms: number | null;
  measured_at: string | null;
  skewed: boolean;
  implausible_time_scans: number;
  flags: string[];
}

/**
 * `entrada devices clock`: each device's clock offset as the server measured
 * it at the device's last upload (its clock minus the server's), flagging a
 * skew over a minute and scans stored with an implausible time.
 */
export async function deviceClocks(opts: Base & { eventId: string }, output: Output): Promise<DeviceClock[]> {
  const client = new HttpClient(opts.connection, 'admin');
  const event = await fetchEvent(client, opts.eventId);
  const health = await client.get<OfflineHealthResponse>(`/api/v1/events/${event.id}/offline-health`);
  const clocks: DeviceClock[] = health.devices.map((d) => ({
    device_id: d.device_id,
    name: d.name,
    clock_offset_ms: d.clock_offset_ms,
    measured_at: d.last_sync_at,
    skewed:
      d.flags.includes('clock_skew') || (d.clock_offset_ms !== null && Math.abs(d.clock_offset_ms) > SKEW_FLAG_MS),
    implausible_time_scans: d.implausible_time_scans,
    flags: d.flags,
  }));
  if (opts.json) {
    output.out(JSON.stringify({ event_id: event.id, skew_flag_ms: SKEW_FLAG_MS, devices: clocks }, null, 2));
    return clocks;
  }
  if (clocks.length === 0) {
    output.out(`No device has synced at ${event.name} yet: clock offsets are measured at each upload.`);
    return clocks;
  }
  const rows = clocks.map((c) => [
    c.device_id,
    c.name,
    c.clock_offset_ms === null ? 'not measured' : describeOffset(c.clock_offset_ms),
    localTime(c.measured_at, event.timezone),
    c.implausible_time_scans > 0 ? String(c.implausible_time_scans) : '',
    c.skewed ? 'SKEWED' : 'ok',
  ]);
  for (const line of table(['DEVICE ID', 'NAME', 'CLOCK', `MEASURED (${event.timezone})`, 'IMPLAUSIBLE', 'FLAG'], rows))
    output.out(line);
  const skewed = clocks.filter((c) => c.skewed).length;
  if (skewed > 0) {
    output.out(
      `${plural(skewed, 'device')} off by more than ${SKEW_FLAG_MS / 1000} s: set the phone's time to automatic, then sync it. ` +
        'Its scans keep their seq order; conflicts involving implausible times are marked ambiguous for review (docs/operations.md, clock skew).',
    );
  }
  return clocks;
}

/** "+2 min 5 s ahead", "0.4 s behind": the sign in words as well, for people reading it at a gate. */
export function describeOffset(ms: number): string {
  const abs = Math.abs(ms);
  const side = ms > 0 ? 'ahead' : ms < 0 ? 'behind' : '';
  // Rounded once, then split: 6 min 59.96 s reads "7 min 0 s", never "6 min 60 s".
  const s = Math.round(abs / 1000);
  const m = Math.round(abs / 60_000);
  let text: string;
  if (abs < 59_950) text = `${(abs / 1000).toFixed(1)} s`;
  else if (s < 3_600) text = `${Math.floor(s / 60)} min ${s % 60} s`;
  else if (m < 1_440) text = `${Math.floor(m / 60)} h ${m % 60} min`;
  else text = `${(abs / 86_400_000).toFixed(1)} days`;
  return side ? `${ms > 0 ? '+' : '−'}${text} ${side}` : 'exact';
}

function ranges(list: ReadonlyArray<[number, number]>): string {
  return list.map(([a, b]) => (a === b ? `seq ${a}` : `seq ${a}–${b}`)).join(', ');
}

function gateNamer(event: EventDetail): (id: string | null) => string {
  const names = new Map(event.gates.map((g) => [g.id, g.name]));
  return (id) => (id === null ? '' : (names.get(id) ?? id));
}

export function requireDeviceId(value: string): string {
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(value))
    throw new CliError(
      `--device must be a device id (1-64 of A-Z a-z 0-9 . _ : -, from \`entrada devices list\`), got "${value}"`,
    );
  return value;
}
