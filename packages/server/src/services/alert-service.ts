import {
  alertThresholds,
  type AlertRule,
  type AlertSeverity,
  type AlertSubjectKind,
  type AlertThresholds,
  type AlertView,
} from '@entrada/core';
import type { Logger } from 'pino';
import type { Database, Sql } from '../db/database.ts';
import { insertAudit } from '../store/audit.ts';
import { conflictCounts } from '../store/conflicts.ts';
import {
  acknowledgeAlert,
  actorNames,
  clearAlerts,
  eventsToEvaluate,
  findAlert,
  insertAlerts,
  listAlerts,
  openAlerts,
  pruneSyncFailures,
  subjectNames,
  tryEvaluationLock,
  updateAlerts,
  type AlertChange,
  type AlertRow,
} from '../store/fleet.ts';
import { iso, ms } from '../store/rows.ts';
import type { Caller } from './audit.ts';
import type { Bus } from './bus.ts';
import { DomainError, notFound } from './errors.ts';
import type { EventContext, EventContexts } from './event-context.ts';
import type { DeviceState, FleetService } from './fleet-service.ts';
import type { Notify, OrganiserNotification } from './notifications.ts';
import { computeOccupancy } from './occupancy-service.ts';
import { missingCount } from './sync/seq-ranges.ts';

const MIN = 60_000;
/** More missing scans than this in one gap is critical: a device lost or a log reset, not a late upload. */
const LARGE_GAP = 100;

/** What should be open now: one entry per rule and subject. */
export interface WantedAlert extends AlertChange {
  rule: AlertRule;
  subjectKind: AlertSubjectKind;
}

/**
 * The device rules of seed 004's table (and issue 13's additions) for one device, as a pure function of its
 * state, the thresholds and the time: the evaluator and the tests call the same thing.
 */
export function deviceAlerts(d: DeviceState, t: AlertThresholds, now: number, eventRunning: boolean): WantedAlert[] {
  if (d.status === 'revoked') return [];
  const out: WantedAlert[] = [];
  const want = (rule: AlertRule, severity: AlertSeverity, detail: Record<string, unknown>): void => {
    out.push({ rule, severity, subjectKind: 'device', subjectId: d.pk, detail });
  };
  const pending = d.pending ?? 0;
  if (d.lastContactAt !== null && (pending > 0 || eventRunning)) {
    const silent = now - d.lastContactAt;
    if (silent > t.device_offline_warning_min * MIN) {
      want('device_offline', silent > t.device_offline_critical_min * MIN ? 'critical' : 'warning', {
        last_seen_at: iso(d.lastContactAt),
        pending_scans: d.pending,
      });
    }
  }
  if (pending > t.pending_warning)
    want('pending_queue', pending > t.pending_critical ? 'critical' : 'warning', {
      pending_scans: pending,
      oldest_pending_at: iso(d.oldestPendingAt),
    });
  if (d.consecutiveFailures > t.sync_failures)
    want('sync_failures', 'critical', { consecutive_failures: d.consecutiveFailures });
  if (d.missing.length > 0 && d.missingSince !== null && now - d.missingSince > t.sequence_gap_min * MIN) {
    const count = missingCount(d.missing);
    want('sequence_gap', count > LARGE_GAP ? 'critical' : 'warning', {
      missing: d.missing,
      missing_count: count,
      open_since: iso(d.missingSince),
    });
  }
  if (d.clockOffsetMs !== null && Math.abs(d.clockOffsetMs) > t.clock_offset_min * MIN) {
    // Rounded to the minute: the measure moves by milliseconds with every heartbeat, the alert need not.
    want('clock_offset', 'warning', { clock_offset_min: Math.round(d.clockOffsetMs / MIN) });
  }
  if (d.batteryLevel !== null && d.batteryLevel * 100 < t.battery_percent && pending > 0) {
    want('battery_low', 'warning', {
      battery_percent: Math.round(d.batteryLevel * 100),
      charging: d.batteryCharging,
      pending_scans: pending,
    });
  }
  return out;
}

export interface AlertServiceOptions {
  /** Test-only: evaluate without the advisory lock, to show the race it prevents. */
  unsafeDisableLock?: boolean;
  /** Test-only: called inside the evaluation's transaction after the open alerts are read, before anything is written. */
  afterRead?: (eventId: string) => Promise<void>;
}

const sameDetail = (a: Record<string, unknown> | string, b: Record<string, unknown>): boolean =>
  JSON.stringify(typeof a === 'string' ? JSON.parse(a) : a) === JSON.stringify(b);

/** Alerts (issue 13 §3): evaluated on a timer under an advisory lock per event, listed and acknowledged by organisers. */
export class AlertService {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly db: Database,
    private readonly contexts: EventContexts,
    private readonly fleet: FleetService,
    private readonly bus: Bus,
    /** Webhooks and email: queued in the evaluation's transaction. */
    private readonly notify: Notify,
    private readonly now: () => number,
    private readonly log: Logger,
    private readonly options: AlertServiceOptions = {},
  ) {}

  /** Evaluates every `intervalMs` (0: never; tests call `evaluateAll` or `evaluate` themselves). */
  start(intervalMs: number): void {
    if (intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      // A pass that outlasts the interval is not overlapped by the next one.
      if (this.running) return;
      this.running = this.evaluateAll()
        .catch((err: unknown) => this.log.warn({ err }, 'alert evaluation failed; next pass on the timer'))
        .finally(() => {
          this.running = null;
        });
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass over the events that are running or recent, or have open alerts. */
  async evaluateAll(): Promise<void> {
    for (const eventId of await eventsToEvaluate(this.db, this.now())) await this.evaluate(eventId);
    await pruneSyncFailures(this.db, this.now() - 7 * 24 * 60 * MIN);
  }

  /**
   * Raises, updates and clears one event's alerts. Conditions are read set-based (one statement for every device
   * rule, one for conflicts, occupancy's for zones); the writes run in one transaction under the event's advisory
   * lock: another instance evaluating the same event at the same moment skips it (`false`).
   */
  async evaluate(eventId: string): Promise<boolean> {
    const ctx = await this.contexts.get(eventId);
    if (!ctx) return false;
    const now = this.now();
    const wanted = await this.conditions(ctx, now);
    const changes = await this.db.transaction(async (tx) => {
      if (!this.options.unsafeDisableLock && !(await tryEvaluationLock(tx, eventId))) return null;
      const open = await openAlerts(tx, eventId);
      await this.options.afterRead?.(eventId);
      const key = (rule: string, kind: string, id: string): string => `${rule}|${kind}|${id}`;
      const want = new Map(wanted.map((w) => [key(w.rule, w.subjectKind, w.subjectId), w]));
      const toClear: string[] = [];
      const toUpdate: Array<{ id: string; severity: AlertSeverity; detail: Record<string, unknown> }> = [];
      const escalated: AlertRow[] = [];
      for (const a of open) {
        const k = key(a.rule, a.subject_kind, a.subject_id);
        const w = want.get(k);
        want.delete(k);
        if (!w) toClear.push(a.id);
        else if (w.severity !== a.severity || !sameDetail(a.detail, w.detail)) {
          toUpdate.push({ id: a.id, severity: w.severity, detail: w.detail });
          if (w.severity !== a.severity) escalated.push({ ...a, severity: w.severity, detail: w.detail });
        }
      }
      const raised = [...(await insertAlerts(tx, eventId, [...want.values()], now)), ...escalated];
      await updateAlerts(tx, eventId, toUpdate);
      const cleared = await clearAlerts(tx, eventId, toClear, now);
      // The outbox: the webhooks' and mails' rows commit with the alerts they tell of, or neither does.
      if (raised.length + cleared.length > 0)
        await this.notify(tx, await this.notifications(tx, ctx, raised, cleared, now));
      return { raised, cleared };
    });
    if (!changes) return false;
    // After the commit: dashboards on every instance.
    for (const a of changes.raised)
      this.bus.publish({ type: 'alert_changed', eventId, alertId: a.id, state: 'raised' });
    for (const a of changes.cleared)
      this.bus.publish({ type: 'alert_changed', eventId, alertId: a.id, state: 'cleared' });
    return true;
  }

  private async conditions(ctx: EventContext, now: number): Promise<WantedAlert[]> {
    const t = alertThresholds(ctx.event.settings);
    const running = ctx.event.startsAt <= now && now <= ctx.event.endsAt;
    const [devices, conflicts, occupancy] = await Promise.all([
      this.fleet.states(ctx),
      conflictCounts(this.db, ctx.event.id),
      computeOccupancy(this.db, ctx, now),
    ]);
    const out = devices.flatMap(({ state }) => deviceAlerts(state, t, now, running));
    if (conflicts.open > 0 && conflicts.oldestOpenAt !== null) {
      const age = now - conflicts.oldestOpenAt;
      if (age > t.conflict_warning_min * MIN) {
        out.push({
          rule: 'conflicts_unresolved',
          severity: age > t.conflict_critical_min * MIN ? 'critical' : 'warning',
          subjectKind: 'event',
          subjectId: ctx.event.id,
          detail: { open: conflicts.open, oldest_open_at: iso(conflicts.oldestOpenAt) },
        });
      }
    }
    for (const z of occupancy.zones) {
      if (z.capacity !== null && z.inside > z.capacity) {
        out.push({
          rule: 'zone_over_capacity',
          severity: 'critical',
          subjectKind: 'zone',
          subjectId: z.id,
          detail: { inside: z.inside, capacity: z.capacity },
        });
      }
    }
    return out;
  }

  /** What webhooks and email tell of alerts raised (or escalated) and cleared, read in the evaluation's transaction. */
  private async notifications(
    tx: Sql,
    ctx: EventContext,
    raised: AlertRow[],
    cleared: AlertRow[],
    at: number,
  ): Promise<OrganiserNotification[]> {
    const views = await this.views(ctx.event.id, [...raised, ...cleared], tx);
    return views.map((v) => ({
      type: v.cleared_at === null ? 'alert.raised' : 'alert.cleared',
      organisationId: ctx.event.organisationId,
      eventId: ctx.event.id,
      occurredAt: at,
      data: { event_id: ctx.event.id, event_name: ctx.event.name, alert: v },
    }));
  }

  /** Alerts as the API shows them: subject names and acknowledgers' names, two statements for any number. */
  private async views(eventId: string, rows: AlertRow[], sql: Sql = this.db): Promise<AlertView[]> {
    const names = await subjectNames(sql, eventId, rows);
    const actors = await actorNames(sql, [
      ...new Set(rows.map((r) => r.acknowledged_by).filter((a): a is string => a !== null)),
    ]);
    return rows.map((r) => ({
      id: r.id,
      rule: r.rule as AlertRule,
      severity: r.severity,
      subject: {
        kind: r.subject_kind,
        id: r.subject_id,
        name: names.get(`${r.subject_kind}:${r.subject_id}`) ?? '(deleted)',
      },
      raised_at: iso(ms(r.raised_at))!,
      cleared_at: iso(ms(r.cleared_at)),
      acknowledged_by: r.acknowledged_by === null ? null : (actors.get(r.acknowledged_by) ?? r.acknowledged_by),
      acknowledged_at: iso(ms(r.acknowledged_at)),
      detail: typeof r.detail === 'string' ? (JSON.parse(r.detail) as Record<string, unknown>) : r.detail,
    }));
  }

  async list(ctx: EventContext, state: 'open' | 'all'): Promise<AlertView[]> {
    return this.views(ctx.event.id, await listAlerts(this.db, ctx.event.id, state));
  }

  /** The open alerts of an event's devices, by device pk (for the fleet table). */
  async openByDevice(ctx: EventContext): Promise<Map<string, AlertView[]>> {
    const views = await this.views(
      ctx.event.id,
      (await openAlerts(this.db, ctx.event.id)).filter((a) => a.subject_kind === 'device'),
    );
    const out = new Map<string, AlertView[]>();
    for (const v of views) out.set(v.subject.id, [...(out.get(v.subject.id) ?? []), v]);
    return out;
  }

  /** Acknowledges an alert (audited in the same transaction); acknowledging twice keeps the first. */
  async acknowledge(c: Caller, alertId: string): Promise<AlertView> {
    const found = await findAlert(this.db, c.organisationId, alertId);
    if (!found) throw notFound('Alert');
    const at = this.now();
    const row = await this.db.transaction(async (tx) => {
      const acked = await acknowledgeAlert(tx, found.event_id, alertId, c.actor, at);
      if (!acked) return null;
      await insertAudit(tx, {
        organisationId: c.organisationId,
        eventId: found.event_id,
        actor: c.actor,
        action: 'alert.acknowledge',
        subjectKind: 'alert',
        subjectId: alertId,
        before: { acknowledged_at: null },
        after: { rule: acked.rule, severity: acked.severity, acknowledged_at: iso(at) },
      });
      return acked;
    });
    if (!row) {
      if (found.acknowledged_at !== null) return (await this.views(found.event_id, [found]))[0]!;
      throw new DomainError('CONFLICT', 'The alert changed meanwhile; read it again');
    }
    this.bus.publish({ type: 'alert_changed', eventId: row.event_id, alertId, state: 'acknowledged' });
    return (await this.views(row.event_id, [row]))[0]!;
  }
}
