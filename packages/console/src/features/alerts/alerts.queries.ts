/** Alerts of an event (open, and the recent ones with cleared), refreshed every 5 s; acknowledging. */
import type { AlertList, AlertView } from '@entrada/core';
import { queryOptions, useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client.ts';

export const alertKeys = {
  all: (eventId: string) => ['events', eventId, 'alerts'] as const,
  list: (eventId: string, state: 'open' | 'all') => ['events', eventId, 'alerts', state] as const,
};

export const alertsQuery = (eventId: string, state: 'open' | 'all') =>
  queryOptions({
    queryKey: alertKeys.list(eventId, state),
    queryFn: async () => (await api.get<AlertList>(`/api/v1/events/${eventId}/alerts?state=${state}`)).alerts,
    refetchInterval: 5_000,
    placeholderData: (prev) => prev,
  });

export function useAcknowledge(eventId: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => api.post<AlertView>(`/api/v1/alerts/${id}/acknowledge`, {}),
    // The fleet table shows open alerts too.
    onSettled: () =>
      Promise.all([
        qc.invalidateQueries({ queryKey: alertKeys.all(eventId) }),
        qc.invalidateQueries({ queryKey: ['events', eventId, 'fleet'] }),
      ]),
  });
}
