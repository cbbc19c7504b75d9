import type { SyncStatus } from '@entrada/client';
import { formatAge } from '../verdict/present.ts';

/** Always visible: connection, how old the ticket data is, what waits to be uploaded, and a way to sync now. */
export function StatusBar({ status, now, manifestAt, onOpen, onSyncNow }: {
  status: SyncStatus | null; now: number; manifestAt: number | null; onOpen: () => void; onSyncNow: () => void;
}) {
  const online = status?.online ?? navigator.onLine;
  const pending = status?.pending ?? 0;
  const conflicts = (status?.conflicts.length ?? 0) + (status?.doubleEntries.length ?? 0);
  const data = manifestAt === null ? 'no ticket data yet' : `data ${formatAge(now - manifestAt)} old`;
  return (
    <header className="statusbar" data-testid="status" data-online={online ? 'yes' : 'no'} data-pending={pending} data-conflicts={conflicts}>
      <button className="status-main" onClick={onOpen} aria-label="Sync details">
        <span className={online ? 'dot on' : 'dot off'} aria-hidden="true" />
        <span className="status-text">
          <b>{online ? 'Online' : 'Offline'}</b>
          <span>{online && manifestAt !== null && now - manifestAt < 5 * 60_000 ? 'data up to date' : data}</span>
        </span>
        <span className={pending > 0 ? 'pill warn' : 'pill'}>{pending} pending</span>
        {conflicts > 0 && <span className="pill bad">{conflicts} conflict{conflicts === 1 ? '' : 's'}</span>}
      </button>
      <button className="sync-now" onClick={onSyncNow} disabled={status?.syncing}>{status?.syncing ? 'Syncing…' : 'Sync now'}</button>
    </header>
  );
}
