/** The fleet table and one device's history: refreshed every 5 s (the live stream drives the dashboard, not these). */
import type { FleetDevice } from '@entrada/core';
import { queryOptions } from '@tanstack/react-query';
import { api } from '../../api/client.ts';

export const fleetKeys = {
  fleet: (eventId: string) => ['events', eventId, 'fleet'] as const,
  history: (eventId: string, deviceId: string) => ['events', eventId, 'fleet', deviceId, 'history'] as const,
};

export interface FleetAnswer {
  event_id: string;
  timezone: string;
  generated_at: string;
  devices: FleetDevice[];
}

export interface DeviceHistory {
  sync_sessions: Array<{
    id: string;
    status: string;
    scans_uploaded: number;
    scans_successful: number;
    scans_failed: number;
    scans_duplicate: number;
    scans_conflict: number;
    attempts: number;
    error_message: string | null;
    started_at: string;
    completed_at: string | null;
  }>;
  logins: Array<{
    id: string;
    identifier: string;
    staff_id: string | null;
    success: boolean;
    message: string | null;
    created_at: string;
  }>;
  scans: Array<{
    id: string;
    result: string;
    reason: string;
    direction: string;
    gate_id: string | null;
    gate_name: string | null;
    staff_id: string | null;
    scanned_at: string;
    received_at: string;
    source: string;
  }>;
}

export const REFRESH_MS = 5_000;

export const fleetQuery = (eventId: string) =>
  queryOptions({
    queryKey: fleetKeys.fleet(eventId),
    queryFn: () => api.get<FleetAnswer>(`/api/v1/events/${eventId}/devices/health`),
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
