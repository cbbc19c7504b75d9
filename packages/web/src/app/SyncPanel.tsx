import type { SyncStatus } from '@entrada/client';
import { useEffect, useRef, useState } from 'react';
import type { StaffSession } from '../device/staff.ts';
import type { BrowserEngine } from '../engine/engine.ts';
import { decodeStats } from '../scan/decode-stats.ts';
import { formatAge } from '../verdict/present.ts';
import type { ConnectionLevel } from './StatusBar.tsx';
import { applyUpdate, onUpdateReady } from './service-worker.ts';

/** Sync details (seed 001's summary), this device's conflicts, the log export for a device that cannot reconnect, and settings. */
export function SyncPanel({
  engine,
  status,
  level,
  now,
  staff,
  decoder,
  onClose,
  onChangeGate,
  onLogout,
}: {
  engine: BrowserEngine;
  status: SyncStatus | null;
  level: ConnectionLevel;
  now: number;
  staff: StaffSession;
  decoder: string | null;
  onClose: () => void;
  onChangeGate: () => void;
  onLogout: () => void;
}) {
  const [update, setUpdate] = useState(false);
  // The export is two deliberate taps on two different buttons: a gloved thumb scrolling the panel must not save files.
  const [confirmExport, setConfirmExport] = useState(false);
  const [exported, setExported] = useState<string | null>(null);
  const confirmBox = useRef<HTMLDivElement>(null);
  // The question appears below the fold on a small phone: bring it into view, without focusing "Save file".
  useEffect(() => {
    if (confirmExport) confirmBox.current?.scrollIntoView({ block: 'nearest' });
  }, [confirmExport]);
  const conn = engine.scanner.connectivity.current;
  const problems = engine.scanner.storageProblems;
  const expiresAt = engine.scanner.manifestExpiresAt;
  const [archived, setArchived] = useState(0);
  useEffect(() => {
    void engine.scanner.archivedCount().then(setArchived, () => undefined);
  }, [engine, status]);
  useEffect(() => onUpdateReady(setUpdate), []);
  const s = status;
  const gateName = (id: string): string => engine.creds.gates.find((g) => g.id === id)?.name ?? 'another gate';
  const summary = s?.lastSummary;
  const stats = decodeStats();

  const exportLog = async (): Promise<void> => {
    const log = await engine.scanner.exportLog();
    const blob = new Blob([JSON.stringify(log)], { type: 'application/json' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `entrada-scans-${engine.creds.name.replace(/[^\w-]+/g, '_')}-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    setConfirmExport(false);
    setExported(
      `Saved ${a.download} (${log.scans.length} scans, ${log.scans.filter((x) => !x.synced).length} unsent). Hand it to an organiser: entrada offline import ${a.download}`,
    );
  };

  return (
    <div className="panel" role="dialog" aria-label="Sync details" data-testid="sync-panel">
      <div className="panel-head">
        <h2>Sync</h2>
        <button className="big secondary" onClick={onClose}>
          Close
        </button>
      </div>
      <dl className="facts">
        <dt>Connection</dt>
        <dd data-testid="connection">
          {level === 'online'
            ? 'Online'
            : level === 'slow'
              ? 'Slow server — scans decided on this device'
              : 'Offline — scans decided on this device'}
          {conn.latencyMs >= 0 ? ` · health check ${conn.latencyMs} ms` : ''}
          {conn.detail && level !== 'online' ? ` · ${conn.detail}` : ''}
        </dd>
        <dt>Ticket data</dt>
        <dd className={engine.scanner.manifestExpired(now) ? 'error' : undefined}>
          {expiresAt === null
            ? 'none yet'
            : engine.scanner.manifestExpired(now)
              ? 'EXPIRED — older than the server allows; sync as soon as possible'
              : `valid for ${formatAge(expiresAt - now)} more`}
        </dd>
        <dt>Pending scans</dt>
        <dd data-testid="pending">
          {s?.pending ?? 0}
          {s?.oldestPendingAgeMs != null ? ` (oldest ${formatAge(s.oldestPendingAgeMs)})` : ''}
        </dd>
        <dt>Last sync</dt>
        <dd>{s?.lastSuccessAt ? `${formatAge(now - s.lastSuccessAt)} ago` : 'never'}</dd>
        {summary && (
          <>
            <dt>Last sync did</dt>
            <dd data-testid="last-summary">
              {summary.uploaded} uploaded · {summary.acknowledged} synced · {summary.conflicts} conflicts ·{' '}
              {summary.failed} failed
            </dd>
          </>
        )}
        {s?.lastError && (
          <>
            <dt>Last error</dt>
            <dd className="error">
              {s.lastError.message}
              {s.nextAttemptAt ? ` · retry in ${formatAge(Math.max(0, s.nextAttemptAt - now))}` : ''}
            </dd>
          </>
        )}
        {s && s.missing.length > 0 && (
          <>
            <dt>Missing on server</dt>
            <dd className="error">seq {s.missing.map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join(', ')}</dd>
          </>
        )}
        {archived > 0 && (
          <>
            <dt>Archived</dt>
            <dd>{archived} failed or conflicting scans over 30 days old (the server keeps them)</dd>
          </>
        )}
        <dt>Acknowledged through</dt>
        <dd>seq {s?.ackedThrough ?? 0}</dd>
        <dt>Staff</dt>
        <dd>{staff.name}</dd>
        <dt>Device</dt>
        <dd>{engine.creds.name}</dd>
        <dt>Decoder</dt>
        <dd>
          {decoder ?? '—'}
          {stats ? ` · ${stats.p50.toFixed(0)} ms/frame (p95 ${stats.p95.toFixed(0)})` : ''}
        </dd>
      </dl>
      <h3>Conflicts on this device</h3>
      {s && (s.conflicts.length > 0 || s.doubleEntries.length > 0) ? (
        <ul className="conflicts" data-testid="conflicts">
          {s.conflicts.map((c) => (
            <li key={`c${c.seq}`}>
              <b>Your scan #{c.seq}:</b> {c.message}
              {c.ambiguous ? ' (too close to call — organiser reviews)' : ''}
            </li>
          ))}
          {s.doubleEntries.map((d) => (
            <li key={d.scanId}>
              <b>Double entry:</b> a ticket you admitted was also admitted by device {d.deviceId}
              {d.gateId ? ` at ${gateName(d.gateId)}` : ''}
              {d.at ? ` at ${new Date(d.at).toLocaleTimeString()}` : ''} — your scan stands.
            </li>
          ))}
        </ul>
      ) : (
        <p className="hint">None.</p>
      )}
      {s && s.refused.length > 0 && (
        <>
          <h3>Refused by the server</h3>
          <ul className="conflicts" data-testid="refused">
            {s.refused.map((r) => (
              <li key={`r${r.seq}`}>
                <b>Your scan #{r.seq}:</b> {r.message} — kept on this device (export the scan log); the organisers see
                it as missing.
              </li>
            ))}
          </ul>
        </>
      )}
      {problems.length > 0 && (
        <>
          <h3>Storage damaged</h3>
          <ul className="conflicts" data-testid="storage-problems">
            {problems.map((p, i) => (
              <li key={i}>
                {p.message}
                {p.preservedAs ? ` (damaged copy kept: ${p.preservedAs})` : ''}
              </li>
            ))}
          </ul>
          <p className="hint">Export the scan log below and give it to an organiser.</p>
        </>
      )}
      <div className="stack">
        <button className="big" onClick={() => void engine.scanner.sync.syncNow()}>
          Sync now
        </button>
        {!confirmExport ? (
          <button
            className="big secondary"
            onClick={() => {
              setExported(null);
              setConfirmExport(true);
            }}
          >
            Export unsent scans…
          </button>
        ) : (
          <div className="confirm" role="group" aria-label="Export unsent scans" ref={confirmBox}>
            <p>
              Save this device&apos;s scan log ({s?.pending ?? 0} unsent) as a file for the organisers (
              <code>entrada offline import</code>). Only when an organiser asks for it.
            </p>
            <div className="row">
              <button className="big" onClick={() => void exportLog()}>
                Save file
              </button>
              <button className="big secondary" onClick={() => setConfirmExport(false)}>
                Cancel
              </button>
            </div>
          </div>
        )}
        {exported && (
          <p className="hint" data-testid="exported">
            {exported}
          </p>
        )}
        <button className="big secondary" onClick={onChangeGate}>
          Change gate
        </button>
        <button className="big secondary" onClick={onLogout}>
          Log out
        </button>
        {update && (
          <button className="big" onClick={applyUpdate}>
            Update the app
          </button>
        )}
      </div>
    </div>
  );
}
