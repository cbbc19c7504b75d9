/**
 * The event's live dashboard: occupancy per zone with the pending band, entries and exits per minute per gate,
 * totals, the scans as they happen, and links to the alerts and conflicts. Everything comes from the live
 * stream (no polling); the event's details (name, time zone) are read once.
 */
import { useQuery } from '@tanstack/react-query';
import { useEffect, useState, type ReactNode } from 'react';
import { Link, useParams } from 'react-router';
import { eventQuery } from '../../api/queries.ts';
import { clock } from '../../lib/time.ts';
import { LiveStatus } from '../../ui/kit.tsx';
import { useLiveDashboard, type OccupancyLive, type ScanLive, type ZoneLive } from './live.ts';
import { RateChart } from './RateChart.tsx';
import './dashboard.css';

const words = (reason: string): string => reason.replace(/_/g, ' ');
const plural = (n: number, one: string, many = `${one}s`): string =>
  `${n.toLocaleString('en')} ${n === 1 ? one : many}`;

export function DashboardScreen(): ReactNode {
  const { eventId = '' } = useParams();
  const event = useQuery(eventQuery(eventId));
  const live = useLiveDashboard(eventId);
  const [now, setNow] = useState(() => Date.now());
  // The chart's time axis moves on each minute even when nobody scans.
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(t);
  }, []);
  const tz = event.data?.timezone ?? 'UTC';
  const occ = live.occupancy;

  return (
    <section className="dashboard" aria-labelledby="dash-title">
      <div className="page-head">
        <div>
          <h1 id="dash-title">Live: {event.data?.name ?? 'event'}</h1>
          <p className="muted">Times in {tz}.</p>
        </div>
        <div className="head-actions">
          <LiveStatus status={live.status} />
          <Link to={`/e/${eventId}/alerts`}>Alerts{live.alertsRaised > 0 ? ` (${live.alertsRaised} new)` : ''}</Link>
          <Link to={`/e/${eventId}/conflicts`}>
            Conflicts{live.conflictsOpened > 0 ? ` (${live.conflictsOpened} new)` : ''}
          </Link>
        </div>
      </div>

      {occ ? <Totals occ={occ} /> : <p className="loading">Waiting for the first counts…</p>}
      {occ && <Zones occ={occ} />}

      <div className="dash-grid">
        <div className="panel">
          <RateChart rate={live.rate} gates={live.gates} timezone={tz} now={now} />
        </div>
        <div className="panel">
          <Scans scans={live.scans} tz={tz} />
          {live.notices.length > 0 && (
            <>
              <h3>Changes</h3>
              <ul className="notices">
                {live.notices.map((n, i) => (
                  <li key={i}>
                    {clock(n.at, tz)} · {n.text}
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      </div>
    </section>
  );
}

function Totals({ occ }: { occ: OccupancyLive }): ReactNode {
  const reasons = Object.entries(occ.denied).sort((a, b) => b[1] - a[1]);
  return (
    <div className="totals" data-testid="totals">
      <div className="panel total">
        <span className="label">Inside now</span>
        <span className="value" data-testid="inside">
          {occ.inside.toLocaleString('en')}
        </span>
        {occ.capacity !== null && <span className="muted">of {occ.capacity.toLocaleString('en')}</span>}
      </div>
      <div className="panel total">
        <span className="label">Admitted</span>
        <span className="value" data-testid="admitted">
          {occ.admitted.toLocaleString('en')}
        </span>
      </div>
      <div className="panel total">
        <span className="label">Denied</span>
        <span className="value" data-testid="denied">
          {occ.denied_total.toLocaleString('en')}
        </span>
        {reasons.length > 0 && (
          <ul className="reasons">
            {reasons.slice(0, 4).map(([r, n]) => (
              <li key={r}>
                {words(r)}: {n.toLocaleString('en')}
              </li>
            ))}
          </ul>
        )}
      </div>
      <div className="panel total pending" data-testid="pending">
        <span className="label">Not yet uploaded</span>
        {occ.pending_max > 0 ? (
          <span>
            May rise by up to {occ.pending_max.toLocaleString('en')}: {plural(occ.pending_devices, 'device')} offline
            with pending scans
          </span>
        ) : (
          <span>All scans uploaded: the counts are complete</span>
        )}
      </div>
    </div>
  );
}

function level(z: ZoneLive): { pct: number | null; state: 'ok' | 'near' | 'full' } {
  if (z.capacity === null || z.capacity === 0) return { pct: null, state: 'ok' };
  const pct = Math.round((z.inside / z.capacity) * 100);
  return { pct, state: pct >= 100 ? 'full' : pct >= 90 ? 'near' : 'ok' };
}

function Zones({ occ }: { occ: OccupancyLive }): ReactNode {
  return (
    <div className="panel">
      <h2>Occupancy per zone</h2>
      <ul className="zones">
        {occ.zones.map((z) => {
          const { pct, state } = level(z);
          // Said in words and by a marker as well as by colour: "Full", "Nearly full".
          const flag = state === 'full' ? '▲ Full' : state === 'near' ? '■ Nearly full' : null;
          return (
            <li key={z.zone_id} className={`zone zone-${state}`} data-testid={`zone-${z.name}`}>
              <div className="zone-head">
                <span className="zone-name">{z.name}</span>
                <span className="zone-count">
                  {z.inside.toLocaleString('en')}
                  {z.capacity !== null ? ` / ${z.capacity.toLocaleString('en')}` : ''}
                  {pct !== null ? ` (${pct} %)` : ''}
                </span>
                {flag && <span className={`zone-flag flag-${state}`}>{flag}</span>}
              </div>
              {pct !== null && (
                <div
                  className="bar"
                  role="meter"
                  aria-label={`${z.name} occupancy`}
                  aria-valuemin={0}
                  aria-valuemax={z.capacity ?? 0}
                  aria-valuenow={z.inside}
                  aria-valuetext={`${z.inside} of ${z.capacity} (${pct} %)${flag ? `, ${flag.slice(2)}` : ''}`}
                >
                  <span style={{ width: `${Math.min(100, pct)}%` }} />
                </div>
              )}
              <span className="muted small">
                {plural(z.entries, 'entry', 'entries')}, {plural(z.exits, 'exit')}
              </span>
            </li>
          );
        })}
      </ul>
      {occ.pending_max > 0 && (
        <p className="pending-band" data-testid="pending-band">
          May rise by up to {occ.pending_max.toLocaleString('en')}: {plural(occ.pending_devices, 'device')} offline with
          pending scans.
        </p>
      )}
    </div>
  );
}

function Scans({ scans, tz }: { scans: ScanLive[]; tz: string }): ReactNode {
  return (
    <>
      <h2>Scans as they happen</h2>
      {scans.length === 0 ? (
        <p className="empty">No scans since this page opened.</p>
      ) : (
        <ol className="scans" data-testid="scans" aria-live="off">
          {scans.map((s) => (
            <li key={s.scan_id} className={s.verdict === 'valid' ? 'scan-ok' : 'scan-no'}>
              <span className="t">{clock(s.at, tz)}</span>
              <span className="v">
                {s.verdict === 'valid' ? '✓' : '✕'} {s.direction === 'exit' ? 'Exit' : 'Entry'}{' '}
                {s.verdict === 'valid' ? '' : `refused: ${words(s.reason ?? s.verdict)}`}
              </span>
              <span className="w">
                {s.gate ?? 'no gate'} · {s.device ?? s.device_id ?? '?'}
                {s.offline ? ' · offline' : ''}
                {s.holder_name ? ` · ${s.holder_name}` : ''}
              </span>
            </li>
          ))}
        </ol>
      )}
    </>
  );
}
