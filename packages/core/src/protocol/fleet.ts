import { Type, type Static } from 'typebox';
import { DirectionSchema, Nullable, SeqRanges, StringEnum, Timestamp } from './common.ts';
import { ScanResultSchema } from './scan.ts';
import { DeviceStatusSchema } from './setup-responses.ts';
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
export const AlertRuleSchema = StringEnum(ALERT_RULES);
export const ALERT_SEVERITIES = ['warning', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];
export const AlertSeveritySchema = StringEnum(ALERT_SEVERITIES);
/** What an alert is about (the alerts table's CHECK). */
export const ALERT_SUBJECT_KINDS = ['device', 'event', 'zone'] as const;
export type AlertSubjectKind = (typeof ALERT_SUBJECT_KINDS)[number];
export const AlertSubjectKindSchema = StringEnum(ALERT_SUBJECT_KINDS);

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

/** What `POST /devices/heartbeat` answers: the server's receipt time and how long the device now counts as online. */
export const HeartbeatAck = Type.Object({
  received_at: Timestamp,
  online_within_ms: Type.Integer({ description: 'Online while the next heartbeat arrives within this (90 s)' }),
});
export type HeartbeatAck = Static<typeof HeartbeatAck>;

/** An alert as organisers see it (the list, the fleet table, an acknowledgement, and the alert webhooks' `data.alert`). */
export const AlertView = Type.Object({
  id: Uuid,
  rule: AlertRuleSchema,
  severity: AlertSeveritySchema,
  subject: Type.Object({
    kind: AlertSubjectKindSchema,
    id: Uuid,
    name: Type.String({ description: "The device's, zone's or event's name; (deleted) when it is gone" }),
  }),
  raised_at: Timestamp,
  cleared_at: Nullable(Timestamp),
  acknowledged_by: Nullable(
    Type.String({ description: 'Who acknowledged it (their name, or the actor when unknown)' }),
  ),
  acknowledged_at: Nullable(Timestamp),
  // Per rule (the measure that raised it: pending scans, missing ranges, minutes of clock offset, …): free-form.
  detail: Type.Record(Type.String(), Type.Unknown(), {
    description: 'What the rule measured (fields depend on the rule)',
  }),
});
export type AlertView = Static<typeof AlertView>;

/** GET /events/:eventId/alerts. */
export const AlertList = Type.Object({ alerts: Type.Array(AlertView) });
export type AlertList = Static<typeof AlertList>;

/** A name next to its id (a gate or staff member as the fleet table shows it; empty when it has none). */
const Named = Type.Object({ id: Uuid, name: Type.String() });

/** One device's row of the fleet table (GET /events/:eventId/devices/health). */
export const FleetDevice = Type.Object({
  device_id: Type.String(),
  name: Type.String(),
  status: DeviceStatusSchema,
  online: Type.Boolean({ description: 'A heartbeat within the last 90 s' }),
  gate: Nullable(Named),
  staff: Nullable(Named),
  last_seen_at: Nullable(Timestamp),
  last_heartbeat_at: Nullable(Timestamp),
  last_success_at: Nullable(Timestamp),
  pending_scans: Nullable(Type.Integer()),
  oldest_pending_at: Nullable(Timestamp),
  oldest_pending_age_ms: Nullable(Type.Integer()),
  upload_lag: Nullable(Type.Integer({ description: 'Scans the device reported and the server has not acknowledged' })),
  missing: SeqRanges,
  missing_count: Type.Integer(),
  clock_offset_ms: Nullable(Type.Integer({ description: 'Device clock minus server clock' })),
  battery: Nullable(Type.Object({ level: Type.Number({ description: '0 to 1' }), charging: Nullable(Type.Boolean()) })),
  app_version: Nullable(Type.String()),
  consecutive_sync_failures: Type.Integer(),
  sync_failures_24h: Type.Integer(),
  alerts: Type.Array(AlertView, { description: "The device's open alerts" }),
});
export type FleetDevice = Static<typeof FleetDevice>;

/** GET /events/:eventId/devices/health. */
export const FleetHealth = Type.Object({
  event_id: Uuid,
  timezone: Type.String(),
  generated_at: Timestamp,
  devices: Type.Array(FleetDevice),
});
export type FleetHealth = Static<typeof FleetHealth>;

/** GET /events/:eventId/devices/:deviceId/history: the newest 50 sync sessions and logins, the newest 100 scans. */
export const DeviceHistory = Type.Object({
  sync_sessions: Type.Array(
    Type.Object({
      id: Uuid,
      status: StringEnum(['in_progress', 'completed', 'failed']),
      scans_uploaded: Type.Integer(),
      scans_successful: Type.Integer(),
      scans_failed: Type.Integer(),
      scans_duplicate: Type.Integer(),
      scans_conflict: Type.Integer(),
      attempts: Type.Integer(),
      error_message: Nullable(Type.String()),
      started_at: Timestamp,
      completed_at: Nullable(Timestamp),
    }),
  ),
  logins: Type.Array(
    Type.Object({
      id: Uuid,
      identifier: Type.String({ description: 'The username tried (never a PIN)' }),
      staff_id: Nullable(Uuid),
      success: Type.Boolean(),
      message: Nullable(Type.String()),
      created_at: Timestamp,
    }),
  ),
  scans: Type.Array(
    Type.Object({
      id: Uuid,
      ticket_id: Nullable(Uuid),
      result: ScanResultSchema,
      reason: Type.String({ description: 'A ScanReason (seed 000 devices may have sent their own words)' }),
      direction: DirectionSchema,
      gate_id: Nullable(Uuid),
      gate_name: Nullable(Type.String()),
      staff_id: Nullable(Uuid),
      scanned_at: Timestamp,
      received_at: Timestamp,
      source: StringEnum(['online', 'offline']),
    }),
  ),
});
export type DeviceHistory = Static<typeof DeviceHistory>;
