/** The scan log: every scan, filtered (the filters live in the URL), device time and upload time side by side, CSV export. */
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import type { ScanLogRow } from '@entrada/core';
import type { ColumnDef } from '@tanstack/react-table';
import { useCallback, useMemo, useState, type ReactNode } from 'react';
import { useParams, useSearchParams } from 'react-router';
import { api, errorText } from '../../api/client.ts';
import { devicesQuery, eventQuery, staffQuery } from '../../api/queries.ts';
import { dateTimeSeconds, delay, fromLocalInput, shortDateTimeSeconds, toLocalInput } from '../../lib/time.ts';
import { saveFile } from '../../lib/save-file.ts';
import { DataTable } from '../../ui/DataTable.tsx';
import { Empty, ErrorBox, Field } from '../../ui/kit.tsx';
import { VerdictTag } from '../../ui/verdict.tsx';
import { exportUrl, filtersOf, scansQuery, type ScanFilters } from './scans.queries.ts';

const REASONS = [
  'admitted',
  're_entry',
  'exited',
  'exit_not_inside',
  'forced',
  'double_read',
  'already_used',
  'already_inside',
  'cancelled',
  'blocked',
  'not_yet_valid',
  'expired',
  'wrong_gate',
  'gate_closed',
  'zone_full',
  'wrong_event',
  'unknown_code',
  'malformed_code',
  'bad_signature',
  'unknown_key',
];
const VERDICTS = ['admitted', 'conflict', 'rejected', 'failed', 'quarantined'];

export function ScansScreen(): ReactNode {
  const { eventId = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => filtersOf(params), [params]);
  const event = useQuery(eventQuery(eventId));
  const devices = useQuery(devicesQuery());
  const staff = useQuery(staffQuery(eventId));
  const scans = useInfiniteQuery({ ...scansQuery(eventId, filters), placeholderData: (prev) => prev });
  const rows = useMemo(() => scans.data?.pages.flatMap((p) => p.scans) ?? [], [scans.data]);
  const tz = event.data?.timezone ?? 'UTC';
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = scans;
  const more = useCallback(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);

  const set = (key: keyof ScanFilters, value: string | null): void => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true, flushSync: true });
  };

  const columns = useMemo<ColumnDef<ScanLogRow, unknown>[]>(
    () => [
      {
        header: 'Device time',
        id: 'scanned_at',
        size: 200,
        cell: (c) => (
          <time dateTime={c.row.original.scanned_at} title={dateTimeSeconds(c.row.original.scanned_at, tz)}>
            {shortDateTimeSeconds(c.row.original.scanned_at, tz)}
          </time>
        ),
      },
      {
        header: 'Uploaded',
        id: 'received_at',
        size: 180,
        cell: (c) => (
          <span title={`Received ${dateTimeSeconds(c.row.original.received_at, tz)}`}>
            <time dateTime={c.row.original.received_at}>
              {dateTimeSeconds(c.row.original.received_at, tz).slice(11)}
            </time>{' '}
            <span className="muted">({delay(c.row.original.scanned_at, c.row.original.received_at)})</span>
          </span>
        ),
      },
      { header: 'Gate', id: 'gate', size: 90, cell: (c) => c.row.original.gate?.name ?? '—' },
      { header: 'Device', id: 'device', cell: (c) => c.row.original.device.name ?? c.row.original.device.id },
      { header: 'Staff', id: 'staff', size: 100, cell: (c) => c.row.original.staff?.name ?? '—' },
      { header: 'Ticket', id: 'ticket', size: 80, cell: (c) => c.row.original.ticket?.number ?? '—' },
      { header: 'Dir.', id: 'direction', size: 60, cell: (c) => c.row.original.direction },
      {
        header: 'At the gate',
        id: 'verdict',
        size: 180,
        cell: (c) => (
          <span title={`${c.row.original.result} · ${c.row.original.reason}`}>
            <VerdictTag reason={c.row.original.reason} admitted={c.row.original.result === 'valid'} />
          </span>
        ),
      },
      {
        header: 'Of record',
        id: 'record',
        size: 150,
        cell: (c) => {
          const r = c.row.original;
          const why = r.conflict_reason ? ` (${r.conflict_reason.replace(/_/g, ' ')})` : '';
          return (
            <span title={`${r.verdict}${why}`}>
              <VerdictTag
                reason={r.verdict === 'admitted' ? 'admitted' : r.verdict}
                admitted={r.verdict === 'admitted'}
              />
              {why}
            </span>
          );
        },
      },
      { header: 'Where', id: 'source', size: 70, cell: (c) => c.row.original.source },
    ],
    [tz],
  );

  return (
    <section>
      <div className="page-head">
        <h1>Scan log{event.data ? ` · ${event.data.name}` : ''}</h1>
        <div className="head-actions">
          <ExportLink eventId={eventId} filters={filters} />
        </div>
      </div>
      <form className="panel filters" aria-label="Filter scans" onSubmit={(e) => e.preventDefault()}>
        <Field label={`From (${tz})`}>
          {(id) => (
            <input
              id={id}
              type="datetime-local"
              value={toLocalInput(filters.from, tz)}
              onChange={(e) => set('from', fromLocalInput(e.target.value, tz))}
            />
          )}
        </Field>
        <Field label={`Until (${tz})`}>
          {(id) => (
            <input
              id={id}
              type="datetime-local"
              value={toLocalInput(filters.to, tz)}
              onChange={(e) => set('to', fromLocalInput(e.target.value, tz))}
            />
          )}
        </Field>
        <Select
          label="Gate"
          value={filters.gate_id}
          onChange={(v) => set('gate_id', v)}
          options={(event.data?.gates ?? []).map((g) => [g.id, g.name])}
        />
        <Select
          label="Device"
          value={filters.device_id}
          onChange={(v) => set('device_id', v)}
          options={(devices.data ?? []).map((d) => [d.device_id, d.name])}
        />
        <Select
          label="Staff"
          value={filters.staff_id}
          onChange={(v) => set('staff_id', v)}
          options={(staff.data ?? []).map((s) => [s.id, s.name])}
        />
        <Select
          label="Direction"
          value={filters.direction}
          onChange={(v) => set('direction', v)}
          options={[
            ['entry', 'Entry'],
            ['exit', 'Exit'],
          ]}
        />
        <Select
          label="Of record"
          value={filters.verdict}
          onChange={(v) => set('verdict', v)}
          options={VERDICTS.map((v) => [v, v])}
        />
        <Select
          label="Reason"
          value={filters.reason}
          onChange={(v) => set('reason', v)}
          options={REASONS.map((r) => [r, r.replace(/_/g, ' ')])}
        />
        <Select
          label="Online or offline"
          value={filters.source}
          onChange={(v) => set('source', v)}
          options={[
            ['online', 'Online'],
            ['offline', 'Offline'],
          ]}
        />
        <label className="check">
          <input
            type="checkbox"
            checked={filters.conflicts === 'true'}
            onChange={(e) => set('conflicts', e.target.checked ? 'true' : null)}
          />
          Conflicts only
        </label>
        {Object.keys(filters).length > 0 && (
          <button type="button" onClick={() => setParams({}, { replace: true })}>
            Clear filters
          </button>
        )}
      </form>
      <ErrorBox error={scans.error ? errorText(scans.error) : null} />
      <p className="muted" role="status" data-testid="scan-count">
        {scans.isPending
          ? 'Loading scans…'
          : `${rows.length.toLocaleString('en')}${hasNextPage ? '+' : ''} scan${rows.length === 1 ? '' : 's'}, newest first; times in ${tz}`}
      </p>
      {!scans.isPending && rows.length === 0 && (
        <Empty>{Object.keys(filters).length ? 'No scan matches these filters.' : 'No scans yet.'}</Empty>
      )}
      {rows.length > 0 && (
        <div className="wide-table" role="region" aria-label="Scans (scrolls sideways)" tabIndex={0}>
          <DataTable
            label="Scans"
            data={rows}
            columns={columns}
            getRowId={(s) => s.id}
            onEndReached={more}
            height={520}
            rowHeight={40}
          />
        </div>
      )}
    </section>
  );
}

function Select(props: {
  label: string;
  value: string | undefined;
  onChange: (v: string | null) => void;
  options: Array<[string, string]>;
}): ReactNode {
  return (
    <Field label={props.label}>
      {(id) => (
        <select id={id} value={props.value ?? ''} onChange={(e) => props.onChange(e.target.value || null)}>
          <option value="">Any</option>
          {props.options.map(([v, text]) => (
            <option key={v} value={v}>
              {text}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/**
 * Export CSV with the current filters. With a session cookie the browser downloads the server's stream
 * straight to disk; with a bearer token (not sent by a plain link) it is fetched with the token first.
 */
function ExportLink({ eventId, filters }: { eventId: string; filters: ScanFilters }): ReactNode {
  const [state, setState] = useState<string | null>(null);
  const url = exportUrl(eventId, filters);
  const creds = api.credentials;
  if (creds.kind !== 'token')
    return (
      <a className="button-link" href={url} download data-testid="export-scans">
        Export CSV
      </a>
    );
  async function run(token: string): Promise<void> {
    setState('Exporting…');
    try {
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      if (!res.ok) throw new Error(`The export failed (${res.status}).`);
      saveFile(
        await res.blob(),
        /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'scans.csv',
      );
      setState(null);
    } catch (err) {
      setState(errorText(err));
    }
  }
  return (
    <>
      <button type="button" data-testid="export-scans" onClick={() => void run(creds.token)}>
        Export CSV
      </button>
      {state && (
        <span className="muted" role="status">
          {state}
        </span>
      )}
    </>
  );
}
