/** The fleet table and one device's history: refreshed every 5 s (the live stream drives the dashboard, not these). */
import type { DeviceHistory, FleetHealth } from '@entrada/core';
import { queryOptions } from '@tanstack/react-query';
import { api } from '../../api/client.ts';

export const fleetKeys = {
  fleet: (eventId: string) => ['events', eventId, 'fleet'] as const,
  history: (eventId: string, deviceId: string) => ['events', eventId, 'fleet', deviceId, 'history'] as const,
};

export const REFRESH_MS = 5_000;

export const fleetQuery = (eventId: string) =>
  queryOptions({
    queryKey: fleetKeys.fleet(eventId),
    queryFn: () => api.get<FleetHealth>(`/api/v1/events/${eventId}/devices/health`),
    refetchInterval: REFRESH_MS,
    placeholderData: (prev) => prev,
  });

export const deviceHistoryQuery = (eventId: string, deviceId: string) =>
  queryOptions({
    queryKey: fleetKeys.history(eventId, deviceId),
    queryFn: () => api.get<DeviceHistory>(`/api/v1/events/${eventId}/devices/${encodeURIComponent(deviceId)}/history`),
    refetchInterval: REFRESH_MS,
    placeholderData: (prev) => prev,
  });
