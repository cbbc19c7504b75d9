import {
  alertThresholds,
  HEARTBEAT_ONLINE_MS,
  type AlertView,
  type DeviceHistory,
  type FleetDevice,
  type HeartbeatAck,
  type HeartbeatBody,
} from '@entrada/core';
import type { Database } from '../db/database.ts';
import type { DeviceRecord } from '../store/devices.ts';
import {
  deviceLogins,
  deviceRecentScans,
  deviceSyncSessions,
  fleetRows,
  upsertHeartbeat,
  type FleetRow,
} from '../store/fleet.ts';
import { iso, ms } from '../store/rows.ts';
import type { Bus } from './bus.ts';
import { assertDeviceEvent } from './device-service.ts';
import { invalid, notFound } from './errors.ts';
import type { EventContext, EventContexts } from './event-context.ts';
import { missingCount, type SeqRange } from './sync/seq-ranges.ts';

const DAY = 86_400_000;

/** What the alert evaluator reads of a device (the same row the fleet table shows, before names and alerts). */
export interface DeviceState {
  pk: string;
  deviceId: string;
  name: string;
  status: FleetDevice['status'];
  /** The latest of heartbeat, sync and any authenticated request (server clock). */
  lastContactAt: number | null;
  heartbeatAt: number | null;
  pending: number | null;
  oldestPendingAt: number | null;
  missing: SeqRange[];
  missingSince: number | null;
  clockOffsetMs: number | null;
  batteryLevel: number | null;
  batteryCharging: boolean | null;
  consecutiveFailures: number;
  failures24h: number;
}

export function deviceState(r: FleetRow): DeviceState {
  const missing = (typeof r.missing === 'string' ? JSON.parse(r.missing) : (r.missing ?? [])) as SeqRange[];
  const heartbeatAt = ms(r.received_at);
  const contacts = [heartbeatAt, ms(r.last_sync_at), ms(r.last_seen_at)].filter((t): t is number => t !== null);
  // The heartbeat's measure is the freshest (every 30 s); the last sync's otherwise.
  const hbOffset = r.device_time && r.received_at ? ms(r.device_time)! - heartbeatAt! : null;
  return {
    pk: r.device_pk,
    deviceId: r.device_id,
    name: r.name,
    status: r.status,
    lastContactAt: contacts.length ? Math.max(...contacts) : null,
    heartbeatAt,
    pending: r.pending_scans,
    // Device time, moved onto the server's clock by the heartbeat's offset (a fast device clock would otherwise shorten the age).
    oldestPendingAt: r.oldest_pending_at === null ? null : ms(r.oldest_pending_at)! - (hbOffset ?? 0),
    missing,
    missingSince: missing.length === 0 ? null : (ms(r.missing_since) ?? ms(r.last_sync_at)),
    clockOffsetMs: hbOffset ?? r.clock_offset_ms,
    // Stored as a 4-byte real: 0.42 reads back as 0.4199999…
    batteryLevel: r.battery_level === null ? null : Math.round(r.battery_level * 1000) / 1000,
    batteryCharging: r.battery_charging,
    // The server counts failures it answered; the device also those that never reached it: the larger is the truth.
    consecutiveFailures: Math.max(r.consecutive_failures ?? 0, r.device_sync_failures ?? 0),
    failures24h: r.failures_24h ?? 0,
  };
}

/** The band organisers see a battery in: a change of band is news, a 1 % drop is not. */
function batteryBand(level: number | null, lowPercent: number): number {
  if (level === null) return -1;
  return level * 100 < lowPercent ? 0 : level < 0.3 ? 1 : 2;
}

/** Scanner heartbeats and the event's fleet table (issue 13 §2). */
export class FleetService {
  constructor(
    private readonly db: Database,
    private readonly contexts: EventContexts,
    private readonly bus: Bus,
    private readonly now: () => number,
  ) {}

  /** One upsert; a bus message only when what organisers see changed (online, pending count, battery band). */
  async heartbeat(device: DeviceRecord, body: HeartbeatBody): Promise<HeartbeatAck> {
    const ctx = await this.contexts.get(body.event_id);
    if (!ctx || ctx.event.organisationId !== device.organisationId) throw notFound('Event');
    assertDeviceEvent(device, body.event_id);
    if (body.gate_id && !ctx.gates.has(body.gate_id)) throw invalid('/gate_id is not a gate of this event');
    if (body.oldest_pending_at != null && body.pending_scans === 0)
      throw invalid('/oldest_pending_at must be absent or null when /pending_scans is 0');
    const at = this.now();
    const prev = await upsertHeartbeat(this.db, ctx.event.id, device.pk, body, at);
    const low = alertThresholds(ctx.event.settings).battery_percent;
    const wasOnline = prev.previousReceivedAt !== null && at - prev.previousReceivedAt <= HEARTBEAT_ONLINE_MS;
    if (
      !wasOnline ||
      prev.previousPending !== body.pending_scans ||
      batteryBand(prev.previousBattery, low) !== batteryBand(body.battery?.level ?? null, low)
    ) {
      this.bus.publish({ type: 'device_health_changed', eventId: ctx.event.id, deviceId: device.deviceId });
    }
    return { received_at: new Date(at).toISOString(), online_within_ms: HEARTBEAT_ONLINE_MS };
  }

  /** The fleet's rows with raw state, for the table and the evaluator: one statement for the event. */
  async states(
    ctx: EventContext,
    deviceId: string | null = null,
  ): Promise<Array<{ row: FleetRow; state: DeviceState }>> {
    const rows = await fleetRows(this.db, ctx.event.id, ctx.event.organisationId, this.now() - DAY, deviceId);
    return rows.map((row) => ({ row, state: deviceState(row) }));
  }

  /** The fleet table; `alertsOf` gives each device's open alerts (read once for the event by the caller). */
  async health(
    ctx: EventContext,
    alertsOf: (devicePk: string) => AlertView[],
    deviceId: string | null = null,
  ): Promise<FleetDevice[]> {
    const now = this.now();
    return (await this.states(ctx, deviceId)).map(({ row: r, state: s }) => {
      const acked = r.acked_through ?? 0;
      return {
        device_id: r.device_id,
        name: r.name,
        status: r.status,
        online: s.heartbeatAt !== null && now - s.heartbeatAt <= HEARTBEAT_ONLINE_MS,
        gate: r.gate_id ? { id: r.gate_id, name: r.gate_name ?? '' } : null,
        staff: r.staff_id ? { id: r.staff_id, name: r.staff_name ?? '' } : null,
        last_seen_at: iso(s.lastContactAt),
        last_heartbeat_at: iso(s.heartbeatAt),
        last_success_at: iso(ms(r.last_success_at)),
        pending_scans: s.pending,
        oldest_pending_at: iso(s.oldestPendingAt),
        oldest_pending_age_ms: s.oldestPendingAt === null ? null : Math.max(0, now - s.oldestPendingAt),
        upload_lag: r.reported_last_seq === null ? null : Math.max(0, r.reported_last_seq - acked),
        missing: s.missing,
        missing_count: missingCount(s.missing),
        clock_offset_ms: s.clockOffsetMs,
        battery: s.batteryLevel === null ? null : { level: s.batteryLevel, charging: s.batteryCharging },
        app_version: r.app_version,
        consecutive_sync_failures: s.consecutiveFailures,
        sync_failures_24h: s.failures24h,
        alerts: alertsOf(r.device_pk),
      };
    });
  }

  /** One device's history at the event: sync sessions, staff logins, latest scans. */
  async deviceDetail(ctx: EventContext, deviceId: string): Promise<DeviceHistory & { device_pk: string }> {
    const [state] = await this.states(ctx, deviceId);
    if (!state) throw notFound('Device');
    const [sessions, logins, scans] = await Promise.all([
      deviceSyncSessions(this.db, ctx.event.id, state.row.device_pk, 50),
      deviceLogins(this.db, ctx.event.id, deviceId, 50),
      deviceRecentScans(this.db, ctx.event.id, state.row.device_pk, 100),
    ]);
    return {
      device_pk: state.row.device_pk,
      sync_sessions: sessions.map((s) => ({
        ...s,
        started_at: iso(ms(s.started_at))!,
        completed_at: iso(ms(s.completed_at)),
      })),
      logins: logins.map((l) => ({ ...l, created_at: iso(ms(l.created_at))! })),
      scans: scans.map((s) => ({ ...s, scanned_at: iso(ms(s.scanned_at))!, received_at: iso(ms(s.received_at))! })),
    };
  }
}
