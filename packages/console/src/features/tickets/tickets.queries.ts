/** Tickets: pages of the list (cursor), search, one ticket, and its status changes. */
import { infiniteQueryOptions, useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client.ts';
import { keys } from '../../api/queries.ts';
import type { TicketPage, TicketRow, TicketView } from '../../api/types.ts';

export const PAGE = 500;

/**
 * The event's tickets, a page at a time. The search endpoint (`q`, `cursor`) answers with
 * `next_cursor`; the export endpoint of older servers pages by serial (`after`, `next_after`)
 * and ignores `q`, so there the search is done over the pages here.
 */
export const ticketsQuery = (eventId: string, q: string) => infiniteQueryOptions({
  queryKey: keys.tickets(eventId, q),
  initialPageParam: '',
  queryFn: async ({ pageParam }): Promise<TicketPage> => {
    // The server's search answers at most 500 a page (as the list does).
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (q) params.set('q', q);
    if (pageParam) { params.set('cursor', pageParam); params.set('after', pageParam); }
    const page = await api.get<TicketPage>(`/api/v1/events/${eventId}/tickets?${params}`);
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
  return t.number.toLowerCase() === needle || t.code === q.trim() || (t.holder_name ?? '').toLowerCase().includes(needle) || t.number.toLowerCase().includes(needle);
}

export type TicketAction = 'cancel' | 'block' | 'unblock' | 'reinstate';

export function useTicketAction(eventId: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ id, action, reason }: { id: string; action: TicketAction; reason: string }) =>
      api.post<TicketView>(`/api/v1/tickets/${id}/${action}`, reason ? { reason } : {}),
    onSuccess: (_t, v) => Promise.all([
      qc.invalidateQueries({ queryKey: keys.ticket(v.id) }),
      qc.invalidateQueries({ queryKey: ['events', eventId, 'tickets'] }),
    ]),
  });
}

/** Creates tickets in batches; `onProgress(done, total)` after each. Each batch is all or nothing on the server. */
export async function createTickets(eventId: string, batches: ReadonlyArray<readonly unknown[]>, onProgress: (done: number, total: number) => void): Promise<number> {
  const total = batches.reduce((n, b) => n + b.length, 0);
  let done = 0;
  onProgress(0, total);
  for (const batch of batches) {
    await api.post(`/api/v1/events/${eventId}/tickets`, { tickets: batch });
    done += batch.length;
    onProgress(done, total);
  }
  return done;
}
