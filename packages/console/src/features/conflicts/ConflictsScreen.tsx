/**
 * The conflicts inbox (seed 004's manager resolution interface): filters in the URL, the counts, the list,
 * a conflict's two scans side by side with the ticket's history, and resolving one or many.
 * ("Escalated" comes with the alerts issue: there is no such filter yet.)
 */
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import type { ColumnDef, RowSelectionState } from '@tanstack/react-table';
import { useCallback, useMemo, useState, type ReactNode } from 'react';
import { useParams, useSearchParams } from 'react-router';
import { errorText } from '../../api/client.ts';
import { devicesQuery, eventQuery } from '../../api/queries.ts';
import { useCan } from '../../auth/session.tsx';
import { dateTimeSeconds } from '../../lib/time.ts';
import { DataTable, selectColumn } from '../../ui/DataTable.tsx';
import { Empty, ErrorBox, Field, StatusBadge } from '../../ui/kit.tsx';
import { ConflictDialog, ResolveForm } from './ConflictDialog.tsx';
import {
  conflictFiltersOf,
  conflictsQuery,
  useResolveConflicts,
  type Conflict,
  type ConflictFilters,
} from './conflicts.queries.ts';

const REASONS = [
  'already_used',
  'already_inside',
  'cancelled',
  'blocked',
  'wrong_gate',
  'gate_closed',
  'not_yet_valid',
  'expired',
  'device_revoked',
];

export function ConflictsScreen(): ReactNode {
  const { eventId = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => conflictFiltersOf(params), [params]);
  const event = useQuery(eventQuery(eventId));
  const devices = useQuery(devicesQuery());
  const conflicts = useInfiniteQuery({ ...conflictsQuery(eventId, filters), placeholderData: (prev) => prev });
  const rows = useMemo(() => conflicts.data?.pages.flatMap((p) => p.conflicts) ?? [], [conflicts.data]);
  const counts = conflicts.data?.pages[0]?.counts;
  const tz = event.data?.timezone ?? 'UTC';
  const canResolve = useCan('supervisor');
  const [selection, setSelection] = useState<RowSelectionState>({});
  const [openId, setOpenId] = useState<string | null>(null);
  const resolve = useResolveConflicts(eventId);
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = conflicts;
  const more = useCallback(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);

  const set = (key: keyof ConflictFilters, value: string | null): void => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true, flushSync: true });
    setSelection({});
  };

  const selectable = canResolve && filters.status === 'open';
  const selected = rows.filter((c) => selection[c.id] && c.status === 'open').map((c) => c.id);
  const columns = useMemo<ColumnDef<Conflict, unknown>[]>(
    () => [
      ...(selectable ? [selectColumn<Conflict>((c) => `conflict of ticket ${c.ticket.number ?? c.ticket.id}`)] : []),
      {
        header: 'Ticket',
        id: 'ticket',
        size: 90,
        cell: (c) => (
          <button type="button" className="link" onClick={() => setOpenId(c.row.original.id)}>
            {c.row.original.ticket.number ?? '—'}
          </button>
        ),
      },
      {
        header: 'Why',
        id: 'reason',
        size: 200,
        cell: (c) => (
          <>
            {`${c.row.original.reason.replace(/_/g, ' ')}${c.row.original.ambiguous ? ' (ambiguous)' : ''}`}
            {c.row.original.escalation && (
              <>
                {' '}
                <span className="badge badge-escalated" title={c.row.original.escalation.note}>
                  Escalated
                </span>
              </>
            )}
          </>
        ),
      },
      { header: 'Won', id: 'winner', size: 260, cell: (c) => side(c.row.original.winner, tz) },
      { header: 'Lost', id: 'loser', size: 260, cell: (c) => side(c.row.original.loser, tz) },
      {
        header: 'Status',
        id: 'status',
        size: 140,
        cell: (c) => (
          <>
            <StatusBadge status={c.row.original.status} />
            {c.row.original.resolution ? ` ${c.row.original.resolution}` : ''}
          </>
        ),
      },
    ],
    [selectable, tz],
  );

  const open = rows.find((c) => c.id === openId) ?? null;
  // A conflict that left the list (resolved out of the open inbox) closes its dialog for good.
  if (openId && !open && !conflicts.isFetching) setOpenId(null);
  return (
    <section>
      <div className="page-head">
        <h1>Conflicts{event.data ? ` · ${event.data.name}` : ''}</h1>
      </div>
      <p
        className="counts"
        role="status"
        data-testid="conflict-counts"
        data-open={counts?.open}
        data-resolved={counts?.resolved}
      >
        {counts ? (
          <>
            <span>
              <strong>{counts.open}</strong> open
            </span>
            <span>
              <strong>{counts.ambiguous_open}</strong> open and ambiguous
            </span>
            <span>
              <strong>{counts.resolved}</strong> resolved
            </span>
          </>
        ) : (
          'Loading…'
        )}
      </p>
      <form className="panel filters" aria-label="Filter conflicts" onSubmit={(e) => e.preventDefault()}>
        <Field label="Status">
          {(id) => (
            <select id={id} value={filters.status} onChange={(e) => set('status', e.target.value)}>
              <option value="open">Open</option>
              <option value="resolved">Resolved</option>
              <option value="all">All</option>
            </select>
          )}
        </Field>
        <Field label="Why">
          {(id) => (
            <select id={id} value={filters.reason ?? ''} onChange={(e) => set('reason', e.target.value || null)}>
              <option value="">Any</option>
              {REASONS.map((r) => (
                <option key={r} value={r}>
                  {r.replace(/_/g, ' ')}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Device (either scan)">
          {(id) => (
            <select id={id} value={filters.device_id ?? ''} onChange={(e) => set('device_id', e.target.value || null)}>
              <option value="">Any</option>
              {(devices.data ?? []).map((d) => (
                <option key={d.device_id} value={d.device_id}>
                  {d.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <label className="check">
          <input
            type="checkbox"
            checked={filters.ambiguous === 'true'}
            onChange={(e) => set('ambiguous', e.target.checked ? 'true' : null)}
          />
          <span title="The devices' clocks are too uncertain to tell which scan came first">Ambiguous only</span>
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={filters.escalated === 'true'}
            onChange={(e) => set('escalated', e.target.checked ? 'true' : null)}
          />
          <span title="Gate staff sent these to the organisers with a note">Escalated only</span>
        </label>
      </form>
      <ErrorBox error={conflicts.error ? errorText(conflicts.error) : null} />
      {selectable && selected.length > 0 && (
        <div className="panel" data-testid="bulk-resolve">
          <h2>Resolve {selected.length} selected</h2>
          <ResolveForm
            busy={resolve.isPending}
            label={`Resolve ${selected.length} selected`}
            onResolve={(resolution, note) =>
              resolve.mutate({ ids: selected, resolution, note }, { onSuccess: () => setSelection({}) })
            }
          />
          <ErrorBox error={resolve.error ? errorText(resolve.error) : null} />
        </div>
      )}
      {!conflicts.isPending && rows.length === 0 && (
        <Empty>
          {filters.status === 'open'
            ? 'No open conflicts. Double entries and quarantined scans appear here.'
            : 'No conflict matches.'}
        </Empty>
      )}
      {rows.length > 0 && <p className="muted">Times in {tz}.</p>}
      {rows.length > 0 && (
        <div className="wide-table conflicts-table" role="region" aria-label="Conflicts" tabIndex={0}>
          <DataTable
            label="Conflicts"
            data={rows}
            columns={columns}
            getRowId={(c) => c.id}
            onEndReached={more}
            height={480}
            rowHeight={48}
            onRowOpen={(c) => setOpenId(c.id)}
            {...(selectable ? { rowSelection: selection, onRowSelectionChange: setSelection } : {})}
          />
        </div>
      )}
      {open && event.data && <ConflictDialog event={event.data} conflict={open} onClose={() => setOpenId(null)} />}
    </section>
  );
}

function side(s: Conflict['loser'] | null, tz: string): string {
  if (!s) return '—';
  return `${s.device_name ?? s.device_id} · ${s.gate ?? 'no gate'} · ${dateTimeSeconds(s.scanned_at, tz).slice(11)}`;
}
