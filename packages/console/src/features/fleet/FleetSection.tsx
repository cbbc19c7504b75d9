/**
 * The event's fleet (issue 13 §2): every scanner's state, gate, staff, pending scans, gaps, clock, battery and
 * alerts, refreshed every 5 s. Sort and the "needs attention" filter live in the URL (shareable, back button).
 */
import type { FleetDevice } from '@entrada/core';
import { useQuery } from '@tanstack/react-query';
import { useMemo, type ReactNode } from 'react';
import { useSearchParams } from 'react-router';
import { errorText } from '../../api/client.ts';
import { ago, dateTime } from '../../lib/time.ts';
import { Empty, ErrorBox } from '../../ui/kit.tsx';
import { DevicePanel } from './DevicePanel.tsx';
import { clockWords, durationWords, fleetState, needsAttention, STATE_WORDS } from './fleet-state.ts';
import { StateBadge } from './StateBadge.tsx';
import { fleetQuery } from './fleet.queries.ts';
import './fleet.css';

type SortKey = 'state' | 'name' | 'gate' | 'seen' | 'pending' | 'missing' | 'clock' | 'battery' | 'failures';

const COLUMNS: Array<{ key: SortKey; label: string; value: (d: FleetDevice) => number | string }> = [
  { key: 'name', label: 'Device', value: (d) => d.name.toLowerCase() },
  { key: 'state', label: 'State', value: (d) => STATE_WORDS[fleetState(d)].rank },
  { key: 'gate', label: 'Gate · staff', value: (d) => d.gate?.name.toLowerCase() ?? '~' },
  { key: 'seen', label: 'Last seen', value: (d) => (d.last_seen_at ? -Date.parse(d.last_seen_at) : Infinity) },
  { key: 'pending', label: 'Pending', value: (d) => (d.pending_scans ?? -1) * 1e12 + (d.oldest_pending_age_ms ?? 0) },
  { key: 'missing', label: 'Missing', value: (d) => d.missing_count },
  { key: 'clock', label: 'Clock', value: (d) => Math.abs(d.clock_offset_ms ?? 0) },
  { key: 'battery', label: 'Battery', value: (d) => d.battery?.level ?? 2 },
  { key: 'failures', label: 'Sync failures', value: (d) => d.consecutive_sync_failures * 1e6 + d.sync_failures_24h },
];

export function FleetSection({ eventId, timezone }: { eventId: string; timezone: string }): ReactNode {
  const fleet = useQuery(fleetQuery(eventId));
  const [params, setParams] = useSearchParams();
  const sort = (COLUMNS.find((c) => c.key === params.get('sort'))?.key ?? 'state') as SortKey;
  const dir = params.get('dir') === 'desc' ? 'desc' : 'asc';
  const attentionOnly = params.get('attention') === '1';
  const openDevice = params.get('device');
  const now = fleet.data ? Date.parse(fleet.data.generated_at) : Date.now();

  const set = (changes: Record<string, string | null>): void => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes))
      if (v === null) next.delete(k);
      else next.set(k, v);
    // flushSync: the controlled checkbox and sort buttons show the new state at once, not after a transition.
    setParams(next, { replace: true, flushSync: true });
  };

  const rows = useMemo(() => {
    const all = fleet.data?.devices ?? [];
    const col = COLUMNS.find((c) => c.key === sort)!;
    const shown = attentionOnly ? all.filter(needsAttention) : [...all];
    return shown.sort((a, b) => {
      const x = col.value(a);
      const y = col.value(b);
      const c = x < y ? -1 : x > y ? 1 : a.name.localeCompare(b.name);
      return dir === 'asc' ? c : -c;
    });
  }, [fleet.data, sort, dir, attentionOnly]);
  const attentionCount = fleet.data?.devices.filter(needsAttention).length ?? 0;
  const opened = fleet.data?.devices.find((d) => d.device_id === openDevice) ?? null;

  return (
    <section className="panel fleet" aria-labelledby="fleet-title">
      <div className="page-head">
        <div>
          <h2 id="fleet-title">Fleet health</h2>
          <p className="muted fleet-sub">
            {fleet.data
              ? `${fleet.data.devices.filter((d) => d.online).length} of ${fleet.data.devices.length} online · `
              : ''}
            online means a heartbeat in the last 90 s · times in {timezone}
          </p>
        </div>
        <label className="check">
          <input
            type="checkbox"
            checked={attentionOnly}
            onChange={(e) => set({ attention: e.target.checked ? '1' : null })}
          />
          Needs attention only ({attentionCount})
        </label>
      </div>
      <ErrorBox error={fleet.error ? errorText(fleet.error) : null} />
      {fleet.data && rows.length === 0 && (
        <Empty>
          {attentionOnly
            ? 'No device needs attention.'
            : 'No scanner has used this event yet: pair one, and it appears here with its first heartbeat.'}
        </Empty>
      )}
      {rows.length > 0 && (
        <div className="scroll-x">
          <table className="simple fleet-table" aria-label="Fleet health">
            <thead>
              <tr>
                {COLUMNS.map((c) => (
                  <th
                    key={c.key}
                    scope="col"
                    aria-sort={sort === c.key ? (dir === 'asc' ? 'ascending' : 'descending') : 'none'}
                  >
                    <button
                      type="button"
                      className="sort"
                      onClick={() => set({ sort: c.key, dir: sort === c.key && dir === 'asc' ? 'desc' : 'asc' })}
                    >
                      {c.label}
                      <span aria-hidden="true">{sort === c.key ? (dir === 'asc' ? ' ▲' : ' ▼') : ''}</span>
                    </button>
                  </th>
                ))}
                <th scope="col">Alerts</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => (
                <FleetRow
                  key={d.device_id}
                  d={d}
                  now={now}
                  timezone={timezone}
                  onOpen={() => set({ device: d.device_id })}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {opened && (
        <DevicePanel
          eventId={eventId}
          timezone={timezone}
          device={opened}
          now={now}
          onClose={() => set({ device: null })}
        />
      )}
    </section>
  );
}

function FleetRow({
  d,
  now,
  timezone,
  onOpen,
}: {
  d: FleetDevice;
  now: number;
  timezone: string;
  onOpen: () => void;
}): ReactNode {
  const state = fleetState(d);
  const battery = d.battery ? `${Math.round(d.battery.level * 100)} %${d.battery.charging ? ' charging' : ''}` : '—';
  const lowBattery = d.battery !== null && d.battery.level < 0.15;
  return (
    <tr className={`fleet-row fleet-row-${state}`} data-device={d.device_id}>
      <td>
        <button type="button" className="link" onClick={onOpen}>
          {d.name}
        </button>
        <div className="muted small">{d.app_version ?? 'no heartbeat yet'}</div>
      </td>
      <td>
        <StateBadge state={state} />
        {state !== 'online' && state !== 'offline' && (
          <div className="small">{d.online ? '● online' : '○ offline'}</div>
        )}
      </td>
      <td>
        {d.gate?.name ?? <span className="muted">no gate</span>}
        <div className="muted small">{d.staff?.name ?? 'no staff logged in'}</div>
      </td>
      <td title={dateTime(d.last_seen_at, timezone)}>{ago(d.last_seen_at, now)}</td>
      <td className="num" data-label="pending">
        <span data-testid="pending">{d.pending_scans ?? '—'}</span>
        {d.oldest_pending_age_ms !== null && (
          <div className="muted small">oldest {durationWords(d.oldest_pending_age_ms)}</div>
        )}
        {d.upload_lag ? <div className="muted small">lag {d.upload_lag}</div> : null}
      </td>
      <td className="num">{d.missing_count || '—'}</td>
      <td className="num">{clockWords(d.clock_offset_ms)}</td>
      <td className={lowBattery ? 'num warn' : 'num'}>
        {lowBattery && <span aria-hidden="true">▲ </span>}
        {battery}
      </td>
      <td className="num">
        {d.consecutive_sync_failures} in a row<div className="muted small">{d.sync_failures_24h} in 24 h</div>
      </td>
      <td>
        {d.alerts.length === 0 ? (
          <span className="muted">none</span>
        ) : (
          d.alerts.map((a) => (
            <div key={a.id} className={`alert-chip alert-${a.severity}`}>
              <span aria-hidden="true">{a.severity === 'critical' ? '■ ' : '▲ '}</span>
              {a.rule.replace(/_/g, ' ')}
            </div>
          ))
        )}
      </td>
    </tr>
  );
}
