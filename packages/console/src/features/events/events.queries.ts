/**
 * Mutations of events and their set-up: each invalidates what it changed. The refresh is
 * not awaited, so a form's own onSuccess (clearing it) runs before the new row shows:
 * what the organiser types next is never wiped by a late reset.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client.ts';
import { keys } from '../../api/queries.ts';
import type {
  EventChanged,
  EventSummary,
  GateView,
  NewGateView,
  StaffChanged,
  StaffView,
  TicketTypeView,
  ZoneView,
} from '@entrada/core';

export type SetupKind = 'zones' | 'gates' | 'ticket-types' | 'staff';

/** What adding one answers (POST), and changing one (PATCH), per kind: the routes' response schemas. */
interface Added {
  zones: ZoneView;
  gates: NewGateView;
  'ticket-types': TicketTypeView;
  staff: StaffView;
}
interface Changed {
  zones: ZoneView;
  gates: GateView;
  'ticket-types': TicketTypeView;
  staff: StaffChanged;
}

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
    mutationFn: (body: Record<string, unknown>) => api.patch<EventChanged>(`/api/v1/events/${eventId}`, body),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: keys.events });
    },
  });
}

/** Add a zone, gate, ticket type or staff member to the event. */
export function useAddToEvent<K extends SetupKind>(eventId: string, kind: K) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: Record<string, unknown>) => api.post<Added[K]>(`/api/v1/events/${eventId}/${kind}`, body),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: keys.event(eventId) });
    },
  });
}

/** Change one (PATCH) — needs the set-up editing endpoints. */
export function useUpdateInEvent<K extends SetupKind>(eventId: string, kind: K) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ id, body }: { id: string; body: Record<string, unknown> }) =>
      api.patch<Changed[K]>(`/api/v1/events/${eventId}/${kind}/${id}`, body),
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
