/** The conflicts inbox: filtered pages, and resolving one or many (then the counts, the log and the tickets are read again). */
import { infiniteQueryOptions, useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client.ts';

/** One scan of a conflict, as GET /events/:id/conflicts answers (server: services/sync/conflict-service.ts conflictView). */
export interface ConflictScan {
  scan_id: string;
  device_id: string;
  device_name: string | null;
  seq: number | null;
  gate_id: string | null;
  gate: string | null;
  scanned_at: string;
  received_at: string;
  source: string;
  direction: string;
  flags: string[];
  clock_uncertainty_ms: number | null;
  staff_id: string | null;
  staff_name: string | null;
  ambiguous: boolean;
}
export interface Conflict {
  id: string;
  event_id: string;
  ticket: { id: string; number: string | null };
  reason: string;
  ambiguous: boolean;
  status: 'open' | 'resolved' | 'void';
  winner: ConflictScan | null;
  loser: ConflictScan;
  resolution: 'legitimate' | 'fraud' | 'dismissed' | null;
  note: string | null;
  resolved_by: string | null;
  resolved_at: string | null;
  created_at: string;
  /** Gate staff escalated it with a note (seed 004's "Escalate"). */
  escalated?: boolean;
  escalation?: { at: string; note: string; device_id: string; staff_id: string | null } | null;
}
export interface ConflictPage {
  conflicts: Conflict[];
  next_cursor: string | null;
  counts: { open: number; ambiguous_open: number; resolved: number };
}
export type Resolution = 'legitimate' | 'fraud' | 'dismissed';

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
      api.post<{ conflicts: Conflict[] }>(`/api/v1/events/${eventId}/conflicts/resolve`, {
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
