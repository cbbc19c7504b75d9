/**
 * Alerts of an event (open, and the recent ones with cleared), read again when the live stream says one changed
 * (a poll each minute covers a stream that is down); acknowledging.
 */
import type { AlertList, AlertView } from '@entrada/core';
import { queryOptions, useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import { api } from '../../api/client.ts';
import { useEventStream, type StreamStatus } from '../../api/event-stream.ts';

/** The fallback: how often the list is read without a word from the stream. */
export const ALERTS_POLL_MS = 60_000;
/** Alerts raised together (one evaluation) arrive as a burst of messages: one read for them all. */
const COALESCE_MS = 150;

export const alertKeys = {
  all: (eventId: string) => ['events', eventId, 'alerts'] as const,
  list: (eventId: string, state: 'open' | 'all') => ['events', eventId, 'alerts', state] as const,
};

export const alertsQuery = (eventId: string, state: 'open' | 'all') =>
  queryOptions({
    queryKey: alertKeys.list(eventId, state),
    queryFn: async () => (await api.get<AlertList>(`/api/v1/events/${eventId}/alerts?state=${state}`)).alerts,
    refetchInterval: ALERTS_POLL_MS,
    // Nothing kept it fresh while the screen was closed (the stream is the screen's): read again on every visit.
    refetchOnMount: 'always',
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

/**
 * Keeps the event's alert lists fresh from the live stream: an `alert` message (raised, cleared, acknowledged)
 * reads them again at once, and so does the stream opening (nothing told what changed before it, or while it was
 * down). Answers the stream's status, for the screen to say whether it is live.
 */
export function useLiveAlerts(eventId: string): StreamStatus {
  const qc = useQueryClient();
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const refresh = (): void => {
    timer.current ??= setTimeout(() => {
      timer.current = null;
      void qc.invalidateQueries({ queryKey: alertKeys.all(eventId) });
    }, COALESCE_MS);
  };
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
  const status = useEventStream(eventId, (event) => {
    if (event === 'alert') refresh();
  });
  // Each time the stream opens, first or again: what changed before it (or while it was down) was not told.
  useEffect(() => {
    if (status === 'live') void qc.invalidateQueries({ queryKey: alertKeys.all(eventId) });
  }, [status, qc, eventId]);
  return status;
}
