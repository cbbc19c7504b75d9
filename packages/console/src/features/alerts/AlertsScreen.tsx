/**
 * Alerts of an event (issue 13 §3): open ones first, then the recent ones that cleared, in words, with when and
 * who acknowledged. Supervisors and above acknowledge; viewers do not see the button (the server refuses anyway).
 */
import type { AlertView } from '@entrada/core';
import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { NavLink, useParams } from 'react-router';
import { errorText } from '../../api/client.ts';
import { eventQuery } from '../../api/queries.ts';
import { useCan } from '../../auth/session.tsx';
import { dateTime, dayTime, sameDay } from '../../lib/time.ts';
import { Empty, ErrorBox, LiveStatus } from '../../ui/kit.tsx';
import { alertsQuery, useAcknowledge, useLiveAlerts } from './alerts.queries.ts';
import { Notifications } from './Notifications.tsx';
import '../fleet/fleet.css';

/** "Mon 07:28" today, the full date otherwise (in the event's zone). */
function when(iso: string, tz: string, now: number): string {
  const t = Date.parse(iso);
  return sameDay(t, now, tz) ? dayTime(t, tz) : dateTime(iso, tz);
}

const n = (v: unknown): string => (typeof v === 'number' ? v.toLocaleString('en') : '?');

/** What the alert means, in a sentence an organiser reads at a glance. */
export function alertWords(a: AlertView, tz: string, now: number): string {
  const d = a.detail;
  const at = (v: unknown): string => (typeof v === 'string' ? when(v, tz, now) : '?');
  switch (a.rule) {
    case 'device_offline':
      return `Not heard from since ${at(d.last_seen_at)}${d.pending_scans ? ` with ${n(d.pending_scans)} scans pending` : ''}`;
    case 'pending_queue':
      return `${n(d.pending_scans)} scans waiting to upload`;
    case 'sync_failures':
      return `${n(d.consecutive_failures)} syncs failed in a row: check its network`;
    case 'conflicts_unresolved':
      return `${n(d.open)} conflict${d.open === 1 ? '' : 's'} to review, the oldest since ${at(d.oldest_open_at)}`;
    case 'sequence_gap':
      return `${n(d.missing_count)} scan${d.missing_count === 1 ? '' : 's'} missing since ${at(d.open_since)}`;
    case 'clock_offset':
      return `Clock ${Number(d.clock_offset_min) > 0 ? 'ahead' : 'behind'} by ${Math.abs(Number(d.clock_offset_min))} min`;
    case 'battery_low':
      return `Battery at ${n(d.battery_percent)} % with ${n(d.pending_scans)} scans not uploaded`;
    case 'zone_over_capacity':
      return `${n(d.inside)} inside, capacity ${n(d.capacity)}`;
    default:
      return a.rule;
  }
}

const RULE_TITLES: Record<string, string> = {
  device_offline: 'Device offline',
  pending_queue: 'Pending queue',
  sync_failures: 'Sync failing',
  conflicts_unresolved: 'Conflicts unresolved',
  sequence_gap: 'Scans missing',
  clock_offset: 'Clock off',
  battery_low: 'Battery low',
  zone_over_capacity: 'Zone over capacity',
};

export function SeverityBadge({ severity }: { severity: AlertView['severity'] }): ReactNode {
  return (
    <span className={`fleet-state ${severity === 'critical' ? 'fleet-critical' : 'fleet-attention'}`}>
      <span aria-hidden="true">{severity === 'critical' ? '■ ' : '▲ '}</span>
      {severity === 'critical' ? 'Critical' : 'Warning'}
    </span>
  );
}

export function AlertsScreen(): ReactNode {
  const { eventId = '' } = useParams();
  const event = useQuery(eventQuery(eventId));
  const all = useQuery(alertsQuery(eventId, 'all'));
  const live = useLiveAlerts(eventId);
  const tz = event.data?.timezone ?? 'UTC';
  const open = (all.data ?? []).filter((a) => a.cleared_at === null);
  const recent = (all.data ?? []).filter((a) => a.cleared_at !== null).slice(0, 100);
  return (
    <section>
      <div className="page-head">
        <div>
          <h1>Alerts{event.data ? ` · ${event.data.name}` : ''}</h1>
          <p className="muted">
            Shown as the server raises them; an alert clears itself when its condition ends. Times in {tz}.
          </p>
        </div>
        <div className="head-actions">
          {/* Down: the list is still read each minute (ALERTS_POLL_MS). */}
          {live !== 'live' && <span className="muted small">Checking every minute until live again</span>}
          <LiveStatus status={live} />
          <NavLink to={`/e/${eventId}/devices`}>Fleet health</NavLink>
        </div>
      </div>
      <ErrorBox error={all.error ? errorText(all.error) : null} />
      <h2>Open ({open.length})</h2>
      {all.data && open.length === 0 && <Empty>Nothing needs attention now.</Empty>}
      {open.length > 0 && <AlertTable label="Open alerts" alerts={open} tz={tz} eventId={eventId} />}
      <h2>Recently cleared</h2>
      {all.data && recent.length === 0 && <Empty>No alert has cleared yet.</Empty>}
      {recent.length > 0 && <AlertTable label="Recently cleared alerts" alerts={recent} tz={tz} eventId={eventId} />}
      <Notifications eventId={eventId} tz={tz} />
    </section>
  );
}

function AlertTable({
  label,
  alerts,
  tz,
  eventId,
}: {
  label: string;
  alerts: AlertView[];
  tz: string;
  eventId: string;
}): ReactNode {
  const canAck = useCan('supervisor');
  const ack = useAcknowledge(eventId);
  const now = Date.now();
  return (
    <div className="scroll-x panel">
      <ErrorBox error={ack.error ? errorText(ack.error) : null} />
      <table className="simple alerts-table" aria-label={label}>
        <thead>
          <tr>
            <th scope="col">Severity</th>
            <th scope="col">Alert</th>
            <th scope="col">About</th>
            <th scope="col">Raised</th>
            <th scope="col">{alerts[0]?.cleared_at ? 'Cleared' : 'Acknowledged'}</th>
          </tr>
        </thead>
        <tbody>
          {alerts.map((a) => (
            <tr key={a.id} data-alert={a.id} className={a.cleared_at ? 'cleared' : undefined}>
              <td>
                <SeverityBadge severity={a.severity} />
              </td>
              <td>
                <strong>{RULE_TITLES[a.rule] ?? a.rule}</strong>
                <div>{alertWords(a, tz, now)}</div>
              </td>
              <td>
                {a.subject.name}
                <div className="muted small">{a.subject.kind}</div>
              </td>
              <td>{when(a.raised_at, tz, now)}</td>
              <td>
                {a.cleared_at && <div>{when(a.cleared_at, tz, now)}</div>}
                {a.acknowledged_at ? (
                  <div>
                    ✓ {a.acknowledged_by} <span className="muted">{when(a.acknowledged_at, tz, now)}</span>
                  </div>
                ) : (
                  !a.cleared_at &&
                  (canAck ? (
                    <button
                      type="button"
                      onClick={() => ack.mutate(a.id)}
                      disabled={ack.isPending}
                      aria-label={`Acknowledge ${RULE_TITLES[a.rule] ?? a.rule}: ${a.subject.name}`}
                    >
                      Acknowledge
                    </button>
                  ) : (
                    <span className="muted">not yet</span>
                  ))
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
