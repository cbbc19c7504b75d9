import type { OfflineHealthResponse } from '@entrada/core';
import type { Database } from '../../db/database.ts';
import { ms } from '../../store/rows.ts';
import { conflictCounts } from '../../store/conflicts.ts';
import { deviceSyncStates } from '../../store/device-logs.ts';
import type { EventContext } from '../event-context.ts';
import { missingCount, type SeqRange } from './seq-ranges.ts';

const HOUR = 3600_000;
const LARGE_GAP = 100;
const iso = (v: number | null): string | null => (v === null ? null : new Date(v).toISOString());

export interface DeviceHealth {
  device_id: string;
  name: string;
  status: string;
  last_seen_at: string | null;
  last_sync_at: string | null;
  last_success_at: string | null;
  last_seq: number;
  acked_through: number;
  missing: SeqRange[];
  missing_count: number;
  reported_last_seq: number | null;
  upload_lag: number | null;
  clock_offset_ms: number | null;
  syncs: number;
  sync_failures: number;
  sync_failure_rate: number;
  flags: string[];
  flag_reason: string | null;
  /** Scans stored with an implausible time (flagged implausible_time: their decisions are ambiguous, for review). */
  implausible_time_scans: number;
}

/** Per-device sync state at one event: the devices with a log there, or an active session. */
export async function deviceHealth(db: Database, ctx: EventContext, deviceId?: string): Promise<DeviceHealth[]> {
  const rows = await deviceSyncStates(db, ctx.event.id, ctx.event.organisationId, deviceId ?? null);
  return rows.map((r) => {
    const missing = (typeof r.missing === 'string' ? JSON.parse(r.missing) : (r.missing ?? [])) as SeqRange[];
    const syncs = r.syncs ?? 0;
    const acked = r.acked_through ?? 0;
    return {
      device_id: r.device_id,
      name: r.name,
      status: r.status,
      last_seen_at: iso(ms(r.last_seen_at)),
      last_sync_at: iso(ms(r.last_sync_at)),
      last_success_at: iso(ms(r.last_success_at)),
      last_seq: r.last_seq ?? 0,
      acked_through: acked,
      missing,
      missing_count: missingCount(missing),
      reported_last_seq: r.reported_last_seq,
      upload_lag: r.reported_last_seq === null ? null : Math.max(0, r.reported_last_seq - acked),
      clock_offset_ms: r.clock_offset_ms,
      syncs,
      sync_failures: r.sync_failures ?? 0,
      sync_failure_rate: syncs === 0 ? 0 : (r.sync_failures ?? 0) / syncs,
      flags: r.flags ?? [],
      flag_reason: r.flag_reason,
      implausible_time_scans: r.implausible_scans ?? 0,
    };
  });
}

export interface Alert {
  severity: 'warning' | 'critical';
  code: string;
  message: string;
  device_id?: string;
}

/** Offline metrics and alerts for an event (seed 004's monitoring tables). */
export async function offlineHealth(db: Database, ctx: EventContext, now: number): Promise<OfflineHealthResponse> {
  const devices = await deviceHealth(db, ctx);
  const conflicts = await conflictCounts(db, ctx.event.id);
  const alerts: Alert[] = [];
  const seenAt = (d: DeviceHealth): number | null => {
    const times = [d.last_seen_at, d.last_sync_at].filter((t): t is string => t !== null).map((t) => Date.parse(t));
    return times.length ? Math.max(...times) : null;
  };
  let notSeen24 = 0;
  let notSeen72 = 0;
  for (const d of devices) {
    const seen = seenAt(d);
    const age = seen === null ? Infinity : now - seen;
    if (age > 72 * HOUR) {
      notSeen72++;
      alerts.push({
        severity: 'critical',
        code: 'DEVICE_OFFLINE_72H',
        device_id: d.device_id,
        message: `${d.name} not seen for more than 72 h`,
      });
    } else if (age > 24 * HOUR) {
      notSeen24++;
      alerts.push({
        severity: 'warning',
        code: 'DEVICE_OFFLINE_24H',
        device_id: d.device_id,
        message: `${d.name} not seen for more than 24 h`,
      });
    }
    if (d.missing_count > 0) {
      alerts.push({
        severity: d.missing_count > LARGE_GAP ? 'critical' : 'warning',
        code: 'SCANS_MISSING',
        device_id: d.device_id,
        message: `${d.name} is missing ${d.missing_count} scan(s): seqs ${d.missing.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', ')}`,
      });
    }
    for (const f of d.flags) {
      if (f === 'implausible_time') {
        alerts.push({
          severity: 'warning',
          code: 'DEVICE_IMPLAUSIBLE_TIME',
          device_id: d.device_id,
          message: `${d.name}: ${d.implausible_time_scans} scan(s) with an implausible time${
            d.clock_offset_ms !== null && Math.abs(d.clock_offset_ms) > 86_400_000
              ? ` (device clock off by ${Math.round(Math.abs(d.clock_offset_ms) / 86_400_000)} days)`
              : ''
          }; conflicts involving them are marked ambiguous for review`,
        });
        continue;
      }
      alerts.push({
        severity: f === 'clock_skew' ? 'warning' : 'critical',
        code: `DEVICE_${f.toUpperCase()}`,
        device_id: d.device_id,
        message: `${d.name}: ${d.flag_reason ?? f}`,
      });
    }
    if (d.syncs >= 5 && d.sync_failure_rate > 0.5) {
      alerts.push({
        severity: 'critical',
        code: 'SYNC_FAILING',
        device_id: d.device_id,
        message: `${d.name}: ${Math.round(d.sync_failure_rate * 100)}% of syncs fail`,
      });
    }
  }
  if (conflicts.open > 0) {
    const age = conflicts.oldestOpenAt === null ? 0 : now - conflicts.oldestOpenAt;
    alerts.push({
      severity: age > 7 * 24 * HOUR ? 'critical' : 'warning',
      code: 'CONFLICTS_OPEN',
      message: `${conflicts.open} conflict(s) awaiting review${conflicts.ambiguous ? `, ${conflicts.ambiguous} ambiguous` : ''}`,
    });
  }
  const syncs = devices.reduce((n, d) => n + d.syncs, 0);
  const failures = devices.reduce((n, d) => n + d.sync_failures, 0);
  return {
    event_id: ctx.event.id,
    generated_at: new Date(now).toISOString(),
    totals: {
      devices: devices.length,
      devices_with_gaps: devices.filter((d) => d.missing_count > 0).length,
      devices_with_large_gaps: devices.filter((d) => d.missing_count > LARGE_GAP).length,
      missing_scans: devices.reduce((n, d) => n + d.missing_count, 0),
      conflicts_open: conflicts.open,
      conflicts_ambiguous: conflicts.ambiguous,
      conflicts_resolved: conflicts.resolved,
      devices_not_seen_24h: notSeen24 + notSeen72,
      devices_not_seen_72h: notSeen72,
      flagged_devices: devices.filter((d) => d.flags.some((f) => f !== 'clock_skew')).length,
      implausible_time_scans: devices.reduce((n, d) => n + d.implausible_time_scans, 0),
      sync_failure_rate: syncs === 0 ? 0 : failures / syncs,
    },
    devices: devices.map((d) => ({ ...d, last_successful_sync: d.last_success_at })),
    alerts,
  };
}
