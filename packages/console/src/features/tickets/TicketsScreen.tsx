/** Tickets: search (typing or a USB barcode scanner + Enter), the list, import, issue, export. */
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import type { ColumnDef } from '@tanstack/react-table';
import { useCallback, useEffect, useMemo, useState, type FormEvent, type ReactNode } from 'react';
import { useParams, useSearchParams } from 'react-router';
import { errorText } from '../../api/client.ts';
import { eventQuery } from '../../api/queries.ts';
import type { TicketRow } from '../../api/types.ts';
import { IfRole } from '../../auth/session.tsx';
import { DataTable } from '../../ui/DataTable.tsx';
import { Empty, ErrorBox, StatusBadge } from '../../ui/kit.tsx';
import { ExportButton } from './ExportButton.tsx';
import { ImportDialog } from './ImportDialog.tsx';
import { IssueDialog } from './IssueDialog.tsx';
import { TicketDialog } from './TicketDialog.tsx';
import { ticketsQuery } from './tickets.queries.ts';

export function TicketsScreen(): ReactNode {
  const { eventId = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const [text, setText] = useState(q);
  const [dialog, setDialog] = useState<'import' | 'issue' | null>(null);
  const [openId, setOpenId] = useState<string | null>(null);
  const event = useQuery(eventQuery(eventId));
  const tickets = useInfiniteQuery({ ...ticketsQuery(eventId, q), placeholderData: (prev) => prev });
  const rows = useMemo(() => tickets.data?.pages.flatMap((p) => p.tickets) ?? [], [tickets.data]);
  const types = useMemo(() => new Map(event.data?.ticket_types.map((t) => [t.id, t.name])), [event.data]);

  // A search that finds exactly one ticket opens it: a barcode scanner types the code and Enter.
  const [opened, setOpened] = useState('');
  if (q && opened !== q && !tickets.isFetching && rows.length === 1 && !tickets.hasNextPage) {
    setOpened(q);
    setOpenId(rows[0]!.id);
  }
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = tickets;
  const more = useCallback(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);
  // A search over an older server's pages keeps reading until the end.
  const reading = q !== '' && hasNextPage && !tickets.isFetching;
  useEffect(() => {
    if (reading) more();
  }, [reading, more]);

  function search(e: FormEvent): void {
    e.preventDefault();
    setOpened('');
    setParams(text.trim() ? { q: text.trim() } : {});
  }

  const columns = useMemo<ColumnDef<TicketRow, unknown>[]>(
    () => [
      {
        header: 'Number',
        accessorKey: 'number',
        size: 120,
        cell: (c) => (
          <button type="button" className="link" onClick={() => setOpenId(c.row.original.id)}>
            {c.row.original.number}
          </button>
        ),
      },
      { header: 'Holder', accessorKey: 'holder_name', cell: (c) => c.row.original.holder_name ?? '—' },
      { header: 'Type', id: 'type', cell: (c) => types.get(c.row.original.ticket_type_id) ?? c.row.original.tier },
      {
        header: 'Status',
        accessorKey: 'status',
        size: 110,
        minSize: 100,
        cell: (c) => <StatusBadge status={c.row.original.status} />,
      },
      {
        header: 'Entries used',
        id: 'used',
        size: 110,
        cell: (c) => `${c.row.original.scans_used} of ${c.row.original.max_scans}`,
      },
    ],
    [types],
  );

  return (
    <section>
      <div className="page-head">
        <h1>Tickets{event.data ? ` · ${event.data.name}` : ''}</h1>
        <div className="head-actions">
          <IfRole role="manager">
            <button type="button" onClick={() => setDialog('import')}>
              Import CSV
            </button>
            <button type="button" onClick={() => setDialog('issue')}>
              Issue tickets
            </button>
          </IfRole>
          {event.data && <ExportButton event={event.data} />}
        </div>
      </div>
      <form className="search" role="search" onSubmit={search}>
        <label htmlFor="ticket-search">Find a ticket</label>
        <input
          id="ticket-search"
          name="q"
          type="search"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="Number, holder name, or scan the ticket's code"
          autoComplete="off"
        />
        <button type="submit">Search</button>
        {q && (
          <button
            type="button"
            onClick={() => {
              setText('');
              setParams({});
            }}
          >
            Clear
          </button>
        )}
      </form>
      <ErrorBox error={tickets.error ? errorText(tickets.error) : null} />
      <p className="muted wrap" role="status" data-testid="ticket-count">
        {tickets.isPending
          ? 'Loading tickets…'
          : `${rows.length.toLocaleString('en')}${hasNextPage ? '+' : ''} ticket${rows.length === 1 ? '' : 's'}${q ? ` matching “${q}”` : ''}`}
      </p>
      {!tickets.isPending && rows.length === 0 && (
        <Empty>{q ? 'No ticket matches.' : 'No tickets yet. Import a CSV or issue tickets.'}</Empty>
      )}
      {rows.length > 0 && (
        <DataTable
          label="Tickets"
          data={rows}
          columns={columns}
          getRowId={(t) => t.id}
          onEndReached={q ? undefined : more}
          height={520}
          onRowOpen={(t) => setOpenId(t.id)}
        />
      )}
      {dialog === 'import' && event.data && <ImportDialog event={event.data} onClose={() => setDialog(null)} />}
      {dialog === 'issue' && event.data && <IssueDialog event={event.data} onClose={() => setDialog(null)} />}
      {openId && event.data && <TicketDialog event={event.data} ticketId={openId} onClose={() => setOpenId(null)} />}
    </section>
  );
}
