/** The conflicts inbox: filtered pages, and resolving one or many (then the counts, the log and the tickets are read again). */
import type {
  BulkResolveResponse,
  ConflictPage,
  ConflictResolutionSchema,
  ConflictScanSide,
  ConflictView,
} from '@entrada/core';
import { infiniteQueryOptions, useMutation, useQueryClient } from '@tanstack/react-query';
import type { Static } from 'typebox';
import { api } from '../../api/client.ts';

/** The conflicts inbox's answers, as core declares them for the routes. */
export type Conflict = ConflictView;
export type ConflictScan = Static<typeof ConflictScanSide>;
export type Resolution = Static<typeof ConflictResolutionSchema>;

export const CONFLICT_FILTERS = ['status', 'ambiguous', 'escalated', 'reason', 'device_id'] as const;
export type ConflictFilters = Partial<Record<(typeof CONFLICT_FILTERS)[number], string>>;

export function conflictFiltersOf(params: URLSearchParams): ConflictFilters {
  // The inbox opens on what needs a decision.
  const f: ConflictFilters = { status: params.get('status') ?? 'open' };
  for (const k of CONFLICT_FILTERS) {
    const v = params.get(k);
    if (v && k !== 'status') f[k] = v;
  }
  return f;
}

export const conflictKeys = {
  all: (eventId: string) => ['events', eventId, 'conflicts'] as const,
  list: (eventId: string, f: ConflictFilters) => ['events', eventId, 'conflicts', f] as const,
};

export const conflictsQuery = (eventId: string, f: ConflictFilters) =>
  infiniteQueryOptions({
    queryKey: conflictKeys.list(eventId, f),
    initialPageParam: '',
    queryFn: ({ pageParam }) => {
      const params = new URLSearchParams({ ...f, limit: '200' });
      if (pageParam) params.set('cursor', pageParam);
      return api.get<ConflictPage>(`/api/v1/events/${eventId}/conflicts?${params}`);
    },
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });

/** Resolves the conflicts given (all or none on the server); then every view of them is read again. */
export function useResolveConflicts(eventId: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { ids: string[]; resolution: Resolution; note: string }) =>
      api.post<BulkResolveResponse>(`/api/v1/events/${eventId}/conflicts/resolve`, {
        conflict_ids: v.ids,
        resolution: v.resolution,
        ...(v.note ? { note: v.note } : {}),
      }),
    onSuccess: (answer) =>
      Promise.all([
        qc.invalidateQueries({ queryKey: conflictKeys.all(eventId) }),
        qc.invalidateQueries({ queryKey: ['events', eventId, 'scans'] }),
        ...answer.conflicts.map((c) => qc.invalidateQueries({ queryKey: ['tickets', c.ticket.id] })),
      ]),
  });
}
