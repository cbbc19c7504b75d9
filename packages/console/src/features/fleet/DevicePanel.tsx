/** One device at the event: its state, missing ranges, sync sessions (seed 001), staff logins and latest scans. */
import type { FleetDevice } from '@entrada/core';
import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { errorText } from '../../api/client.ts';
import { ago, dateTime } from '../../lib/time.ts';
import { Empty, ErrorBox, Modal } from '../../ui/kit.tsx';
import { clockWords, durationWords, fleetState, rangesWords } from './fleet-state.ts';
import { deviceHistoryQuery } from './fleet.queries.ts';
import { StateBadge } from './StateBadge.tsx';

export function DevicePanel({
  eventId,
  timezone,
  device: d,
  now,
  onClose,
}: {
  eventId: string;
  timezone: string;
  device: FleetDevice;
  now: number;
  onClose: () => void;
}): ReactNode {
  const history = useQuery(deviceHistoryQuery(eventId, d.device_id));
  const h = history.data;
  return (
    <Modal
      title={d.name}
      open
      wide
      onOpenChange={(o) => {
        if (!o) onClose();
      }}
    >
      <p>
        <StateBadge state={fleetState(d)} />{' '}
        <span className="muted">
          {d.device_id} · times in {timezone}
        </span>
      </p>
      <dl className="facts">
        <dt>Last seen</dt>
        <dd>
          {dateTime(d.last_seen_at, timezone)} ({ago(d.last_seen_at, now)})
        </dd>
        <dt>Last heartbeat</dt>
        <dd>{dateTime(d.last_heartbeat_at, timezone)}</dd>
        <dt>Last successful sync</dt>
        <dd>{dateTime(d.last_success_at, timezone)}</dd>
        <dt>Gate · staff</dt>
        <dd>
          {d.gate?.name ?? 'no gate'} · {d.staff?.name ?? 'no staff logged in'}
        </dd>
        <dt>Pending scans</dt>
        <dd>
          {d.pending_scans ?? 'not reported'}
          {d.oldest_pending_age_ms !== null ? `, oldest ${durationWords(d.oldest_pending_age_ms)} old` : ''}
          {d.upload_lag ? ` · upload lag ${d.upload_lag}` : ''}
        </dd>
        <dt>Missing scans</dt>
        <dd>{d.missing_count === 0 ? 'none' : `${d.missing_count}: seq ${rangesWords(d.missing)}`}</dd>
        <dt>Clock</dt>
        <dd>{clockWords(d.clock_offset_ms)}</dd>
        <dt>Battery</dt>
        <dd>
          {d.battery
            ? `${Math.round(d.battery.level * 100)} %${d.battery.charging ? ', charging' : ''}`
            : 'not reported (the browser does not tell)'}
        </dd>
        <dt>App version</dt>
        <dd>{d.app_version ?? '—'}</dd>
        <dt>Sync failures</dt>
        <dd>
          {d.consecutive_sync_failures} in a row, {d.sync_failures_24h} in the last 24 h
        </dd>
      </dl>
      <ErrorBox error={history.error ? errorText(history.error) : null} />

      <h3>Sync sessions</h3>
      {h && h.sync_sessions.length === 0 && <Empty>No sync yet.</Empty>}
      {h && h.sync_sessions.length > 0 && (
        <div className="scroll-x">
          <table className="simple" aria-label="Sync sessions">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Status</th>
                <th scope="col">Uploaded</th>
                <th scope="col">Synced</th>
                <th scope="col">Duplicates</th>
                <th scope="col">Conflicts</th>
                <th scope="col">Failed</th>
              </tr>
            </thead>
            <tbody>
              {h.sync_sessions.map((s) => (
                <tr key={s.id}>
                  <td>{dateTime(s.started_at, timezone)}</td>
                  <td>
                    {s.status.replace('_', ' ')}
                    {s.error_message ? `: ${s.error_message}` : ''}
                  </td>
                  <td>{s.scans_uploaded}</td>
                  <td>{s.scans_successful}</td>
                  <td>{s.scans_duplicate}</td>
                  <td>{s.scans_conflict}</td>
                  <td>{s.scans_failed}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h3>Staff logins</h3>
      {h && h.logins.length === 0 && <Empty>No staff login on this device.</Empty>}
      {h && h.logins.length > 0 && (
        <table className="simple" aria-label="Staff logins">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Username</th>
              <th scope="col">Result</th>
            </tr>
          </thead>
          <tbody>
            {h.logins.map((l) => (
              <tr key={l.id}>
                <td>{dateTime(l.created_at, timezone)}</td>
                <td>{l.identifier}</td>
                <td>{l.success ? '✓ logged in' : `✗ ${l.message ?? 'refused'}`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h3>Latest scans</h3>
      {h && h.scans.length === 0 && <Empty>No scans from this device at this event.</Empty>}
      {h && h.scans.length > 0 && (
        <div className="scroll-x">
          <table className="simple" aria-label="Latest scans">
            <thead>
              <tr>
                <th scope="col">Device time</th>
                <th scope="col">Uploaded</th>
                <th scope="col">Gate</th>
                <th scope="col">Direction</th>
                <th scope="col">Verdict</th>
                <th scope="col">How</th>
              </tr>
            </thead>
            <tbody>
              {h.scans.map((s) => (
                <tr key={s.id}>
                  <td>{dateTime(s.scanned_at, timezone)}</td>
                  <td>{dateTime(s.received_at, timezone)}</td>
                  <td>{s.gate_name ?? '—'}</td>
                  <td>{s.direction}</td>
                  <td>
                    {s.result}
                    {s.reason && s.reason !== s.result ? ` (${s.reason.replace(/_/g, ' ')})` : ''}
                  </td>
                  <td>{s.source}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Modal>
  );
}
