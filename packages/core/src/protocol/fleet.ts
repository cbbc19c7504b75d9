import { Type, type Static } from 'typebox';
import { Count, EpochMs, Fraction, Int53, Text, Uuid } from './values.ts';

/**
 * A scanner's heartbeat (issue 13 §2): what the device says of itself, every 30 s while online and with each
 * sync. Times are the device's clock (epoch ms); the server keeps its own receipt time beside them.
 */
export const HeartbeatBody = Type.Object(
  {
    event_id: Uuid,
    device_time: EpochMs({ description: 'The device clock when it sent this, ms since epoch' }),
    app_version: Text({ minLength: 1, maxLength: 64 }),
    battery: Type.Optional(
      Type.Union([
        Type.Object(
          {
            level: Fraction({ description: "0 to 1 (the Battery Status API's level)" }),
            charging: Type.Boolean(),
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ]),
    ),
    pending_scans: Count({ description: 'Scans decided on the device and not yet acknowledged by the server' }),
    oldest_pending_at: Type.Optional(Type.Union([EpochMs(), Type.Null()])),
    manifest_cursor: Type.Optional(Type.Union([Text({ maxLength: 512 }), Type.Null()])),
    manifest_generated_at: Type.Optional(Type.Union([EpochMs(), Type.Null()])),
    gate_id: Type.Optional(Type.Union([Uuid, Type.Null()])),
    staff_id: Type.Optional(Type.Union([Uuid, Type.Null()])),
    online_since: Type.Optional(Type.Union([EpochMs(), Type.Null()])),
    last_offline_ms: Type.Optional(Type.Union([Int53({ minimum: 0 }), Type.Null()])),
    sync_failures: Type.Optional(
      Count({
        description:
          'Sync attempts in a row that failed on the device (network errors the server never saw included); 0 after a success',
      }),
    ),
  },
  { additionalProperties: false },
);
export type HeartbeatBody = Static<typeof HeartbeatBody>;

/** A device counts as online when its last heartbeat is at most this old (three missed heartbeats). */
export const HEARTBEAT_ONLINE_MS = 90_000;
/** How often a scanner sends a heartbeat while online. */
export const HEARTBEAT_INTERVAL_MS = 30_000;

/** The alert rules (seed 004's table and issue 13's additions). */
export const ALERT_RULES = [
  'device_offline',
  'pending_queue',
  'sync_failures',
  'conflicts_unresolved',
  'sequence_gap',
  'clock_offset',
  'battery_low',
  'zone_over_capacity',
] as const;
export type AlertRule = (typeof ALERT_RULES)[number];
export type AlertSeverity = 'warning' | 'critical';
export type AlertSubjectKind = 'device' | 'event' | 'zone';

/**
 * Per-event alert thresholds (event settings `alerts`); a value not given is the default below. Durations in
 * minutes, queues in scans, battery in percent. "Over" means strictly greater (a queue of exactly 100 is fine).
 */
export const AlertSettings = Type.Object(
  {
    device_offline_warning_min: Type.Optional(Count({ minimum: 1, maximum: 525_600 })),
    device_offline_critical_min: Type.Optional(Count({ minimum: 1, maximum: 525_600 })),
    pending_warning: Type.Optional(Count({ minimum: 0, maximum: 1_000_000 })),
    pending_critical: Type.Optional(Count({ minimum: 0, maximum: 1_000_000 })),
    sync_failures: Type.Optional(Count({ minimum: 0, maximum: 10_000 })),
    conflict_warning_min: Type.Optional(Count({ minimum: 1, maximum: 525_600 })),
    conflict_critical_min: Type.Optional(Count({ minimum: 1, maximum: 525_600 })),
    sequence_gap_min: Type.Optional(Count({ minimum: 0, maximum: 525_600 })),
    clock_offset_min: Type.Optional(Count({ minimum: 1, maximum: 525_600 })),
    battery_percent: Type.Optional(Count({ minimum: 0, maximum: 100 })),
  },
  {
    additionalProperties: false,
    description:
      'Alert thresholds; defaults: offline 1440/4320 min, pending 100/500, 10 sync failures, conflicts 1440/10080 min, gap 15 min, clock 5 min, battery 15 %',
  },
);
export type AlertSettings = Static<typeof AlertSettings>;

export type AlertThresholds = Required<AlertSettings>;

export const DEFAULT_ALERT_THRESHOLDS: AlertThresholds = {
  device_offline_warning_min: 24 * 60,
  device_offline_critical_min: 72 * 60,
  pending_warning: 100,
  pending_critical: 500,
  sync_failures: 10,
  conflict_warning_min: 24 * 60,
  conflict_critical_min: 7 * 24 * 60,
  sequence_gap_min: 15,
  clock_offset_min: 5,
  battery_percent: 15,
};

/** The thresholds of an event's stored settings (unknown or malformed values fall back to the defaults). */
export function alertThresholds(settings: Record<string, unknown> | null | undefined): AlertThresholds {
  const raw = settings?.alerts;
  const given = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const out = { ...DEFAULT_ALERT_THRESHOLDS };
  for (const key of Object.keys(out) as Array<keyof AlertThresholds>) {
    const v = given[key];
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) out[key] = v;
  }
  return out;
}

/** Why a set of thresholds is inconsistent (a warning above its critical level), or null. Field paths as the API names them. */
export function alertSettingsProblem(settings: AlertSettings | undefined): string | null {
  if (!settings) return null;
  const t = alertThresholds({ alerts: settings });
  const pairs: Array<[keyof AlertThresholds, keyof AlertThresholds]> = [
    ['device_offline_warning_min', 'device_offline_critical_min'],
    ['pending_warning', 'pending_critical'],
    ['conflict_warning_min', 'conflict_critical_min'],
  ];
  for (const [w, c] of pairs) {
    if (t[w] > t[c]) return `/settings/alerts/${w} must not be above /settings/alerts/${c} (${t[w]} > ${t[c]})`;
  }
  return null;
}

export const AlertListQuery = Type.Object(
  {
    state: Type.Optional(
      Type.Union([Type.Literal('open'), Type.Literal('all')], {
        description: 'open (default): not cleared; all: the last 500',
      }),
    ),
  },
  { additionalProperties: false },
);

export interface AlertView {
  id: string;
  rule: AlertRule;
  severity: AlertSeverity;
  subject: { kind: AlertSubjectKind; id: string; name: string };
  raised_at: string;
  cleared_at: string | null;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  detail: Record<string, unknown>;
}

/** One device's row of the fleet table (GET /events/:eventId/devices/health). */
export interface FleetDevice {
  device_id: string;
  name: string;
  status: 'active' | 'suspended' | 'revoked';
  online: boolean;
  gate: { id: string; name: string } | null;
  staff: { id: string; name: string } | null;
  last_seen_at: string | null;
  last_heartbeat_at: string | null;
  last_success_at: string | null;
  pending_scans: number | null;
  oldest_pending_at: string | null;
  oldest_pending_age_ms: number | null;
  upload_lag: number | null;
  missing: Array<[number, number]>;
  missing_count: number;
  clock_offset_ms: number | null;
  battery: { level: number; charging: boolean | null } | null;
  app_version: string | null;
  consecutive_sync_failures: number;
  sync_failures_24h: number;
  alerts: AlertView[];
}
