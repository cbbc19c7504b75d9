/** Tickets: pages of the list (cursor), search, one ticket, and its status changes. */
import { infiniteQueryOptions, useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client.ts';
import { keys } from '../../api/queries.ts';
import type { TicketListPage, TicketRow, TicketView } from '../../api/types.ts';
import { MAX_IMPORT_CHUNK_ROWS, type CommittedImport, type NewTicket, type TicketImportView } from '@entrada/core';

export const PAGE = 500;

/**
 * The event's tickets, a page at a time. The search endpoint (`q`, `cursor`) answers with
 * `next_cursor`; the export endpoint of older servers pages by serial (`after`, `next_after`)
 * and ignores `q`, so there the search is done over the pages here.
 */
export const ticketsQuery = (eventId: string, q: string) =>
  infiniteQueryOptions({
    queryKey: keys.tickets(eventId, q),
    initialPageParam: '',
    queryFn: async ({ pageParam }): Promise<TicketListPage> => {
      // The server's search answers at most 500 a page (as the list does).
      const params = new URLSearchParams({ limit: String(PAGE) });
      if (q) params.set('q', q);
      if (pageParam) {
        params.set('cursor', pageParam);
        params.set('after', pageParam);
      }
      const page = await api.get<TicketListPage>(`/api/v1/events/${eventId}/tickets?${params}`);
      if (q && !('next_cursor' in page)) page.tickets = page.tickets.filter((t) => matches(t, q));
      return page;
    },
    getNextPageParam: (last) => {
      if ('next_cursor' in last) return last.next_cursor ?? undefined;
      return last.next_after === null ? undefined : String(last.next_after);
    },
  });

export function matches(t: TicketRow, q: string): boolean {
  const needle = q.trim().toLowerCase();
  return (
    t.number.toLowerCase() === needle ||
    t.code === q.trim() ||
    (t.holder_name ?? '').toLowerCase().includes(needle) ||
    t.number.toLowerCase().includes(needle)
  );
}

export type TicketAction = 'cancel' | 'block' | 'unblock' | 'reinstate';

export function useTicketAction(eventId: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ id, action, reason }: { id: string; action: TicketAction; reason: string }) =>
      api.post<TicketView>(`/api/v1/tickets/${id}/${action}`, reason ? { reason } : {}),
    onSuccess: (_t, v) =>
      Promise.all([
        qc.invalidateQueries({ queryKey: keys.ticket(v.id) }),
        qc.invalidateQueries({ queryKey: ['events', eventId, 'tickets'] }),
      ]),
  });
}

export type ImportPhase = 'upload' | 'commit';

/**
 * Creates tickets through an import session, all or nothing however many there are: the
 * rows go up in chunks of 5,000 (each validated and staged by the server), then one commit
 * writes them all in one transaction. `onProgress(done, total, phase)` after each chunk and
 * before the commit. On any failure the session is abandoned (best effort; the server also
 * drops stale ones) and nothing has been written.
 */
export async function importTickets(
  eventId: string,
  tickets: readonly NewTicket[],
  onProgress: (done: number, total: number, phase: ImportPhase) => void,
): Promise<number> {
  const base = `/api/v1/events/${eventId}/ticket-imports`;
  const session = await api.post<TicketImportView>(base, { total_rows: tickets.length });
  try {
    onProgress(0, tickets.length, 'upload');
    for (let start = 0; start < tickets.length; start += MAX_IMPORT_CHUNK_ROWS) {
      const chunk = tickets.slice(start, start + MAX_IMPORT_CHUNK_ROWS);
      await api.post(`${base}/${session.id}/rows`, { start_row: start + 1, tickets: chunk });
      onProgress(start + chunk.length, tickets.length, 'upload');
    }
    onProgress(tickets.length, tickets.length, 'commit');
    const done = await api.post<CommittedImport>(`${base}/${session.id}/commit`);
    return done.imported;
  } catch (err) {
    await api.delete(`${base}/${session.id}`).catch(() => undefined);
    throw err;
  }
}
