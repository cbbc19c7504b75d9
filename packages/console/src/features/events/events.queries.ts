/**
 * Mutations of events and their set-up: each invalidates what it changed. The refresh is
 * not awaited, so a form's own onSuccess (clearing it) runs before the new row shows:
 * what the organiser types next is never wiped by a late reset.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client.ts';
import { keys } from '../../api/queries.ts';
import type { EventSummary, Gate, TicketType, Zone } from '../../api/types.ts';

export type SetupKind = 'zones' | 'gates' | 'ticket-types' | 'staff';

export function useCreateEvent() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: Record<string, unknown>) => api.post<EventSummary>('/api/v1/events', body),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: keys.events });
    },
  });
}

export function useUpdateEvent(eventId: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: Record<string, unknown>) => api.patch<EventSummary>(`/api/v1/events/${eventId}`, body),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: keys.events });
    },
  });
}

/** Add a zone, gate, ticket type or staff member to the event. */
export function useAddToEvent<T = Zone | Gate | TicketType>(eventId: string, kind: SetupKind) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: Record<string, unknown>) => api.post<T>(`/api/v1/events/${eventId}/${kind}`, body),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: keys.event(eventId) });
    },
  });
}

/** Change one (PATCH) — needs the set-up editing endpoints. */
export function useUpdateInEvent(eventId: string, kind: SetupKind) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ id, body }: { id: string; body: Record<string, unknown> }) =>
      api.patch(`/api/v1/events/${eventId}/${kind}/${id}`, body),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: keys.event(eventId) });
    },
  });
}

/** Remove one (DELETE; 409 names what depends on it) — needs the set-up editing endpoints. */
export function useDeleteInEvent(eventId: string, kind: SetupKind) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => api.delete(`/api/v1/events/${eventId}/${kind}/${id}`),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: keys.event(eventId) });
    },
  });
}
