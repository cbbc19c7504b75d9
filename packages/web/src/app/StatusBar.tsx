import type { SyncStatus } from '@entrada/client';
import { formatAge } from '../verdict/present.ts';

export type ConnectionLevel = 'online' | 'slow' | 'offline';

const LABEL: Record<ConnectionLevel, string> = { online: 'Online', slow: 'Slow → offline', offline: 'Offline' };

/**
 * Each level has its own shape as well as its own word and colour (gloves,
 * sunlight, colour-blind staff): a filled circle online, a triangle when the
 * server is too slow (scans decided here), a crossed ring offline.
 */
function ConnectionIcon({ level }: { level: ConnectionLevel }) {
  return (
    <svg className={`conn-icon ${level}`} width="26" height="26" viewBox="0 0 26 26" aria-hidden="true">
      {level === 'online' && <circle cx="13" cy="13" r="10" />}
      {level === 'slow' && (
        <>
          <path d="M13 2 L25 23 L1 23 Z" />
          <path className="mark" d="M13 9 V16 M13 19 V20.5" />
        </>
      )}
      {level === 'offline' && (
        <>
          <circle cx="13" cy="13" r="9.5" />
          <path d="M6 20 L20 6" />
        </>
      )}
    </svg>
  );
}

/** Always visible: connection, how old the ticket data is, what waits to be uploaded, and a way to sync now. */
export function StatusBar({
  status,
  level,
  now,
  manifestAt,
  expired,
  storageDamaged,
  onOpen,
  onSyncNow,
}: {
  status: SyncStatus | null;
  level: ConnectionLevel;
  now: number;
  manifestAt: number | null;
  expired: boolean;
  storageDamaged: boolean;
  onOpen: () => void;
  onSyncNow: () => void;
}) {
  const online = level === 'online';
  const pending = status?.pending ?? 0;
  const conflicts = (status?.conflicts.length ?? 0) + (status?.doubleEntries.length ?? 0);
  const data =
    manifestAt === null
      ? 'no ticket data yet'
      : expired
        ? `ticket data EXPIRED (${formatAge(now - manifestAt)} old) — sync`
        : `data ${formatAge(now - manifestAt)} old`;
  return (
    <header
      className="statusbar"
      data-testid="status"
      data-online={online ? 'yes' : 'no'}
      data-connection={level}
      data-expired={expired ? 'yes' : 'no'}
      data-pending={pending}
      data-conflicts={conflicts}
    >
      {/* No aria-label: the button is named by what it shows (axe: label-content-name-mismatch), plus a hidden "Sync details". */}
      <button className="status-main" onClick={onOpen}>
        <ConnectionIcon level={level} />
        <span className="status-text">
          <b>{LABEL[level]}</b>
          <span className={expired ? 'expired' : undefined}>
            {online && !expired && manifestAt !== null && now - manifestAt < 5 * 60_000 ? 'data up to date' : data}
          </span>
        </span>
        <span className={pending > 0 ? 'pill warn' : 'pill'}>{pending} pending</span>
        {conflicts > 0 && (
          <span className="pill bad">
            {conflicts} conflict{conflicts === 1 ? '' : 's'}
          </span>
        )}
        {storageDamaged && <span className="pill bad">Storage damaged</span>}
        <span className="sr-only">Sync details</span>
      </button>
      <button className="sync-now" onClick={onSyncNow} disabled={status?.syncing}>
        {status?.syncing ? 'Syncing…' : 'Sync now'}
      </button>
    </header>
  );
}
