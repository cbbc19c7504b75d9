/** Query keys and options, one place: screens read server state only through these. */
import { infiniteQueryOptions, queryOptions } from '@tanstack/react-query';
import { api } from './client.ts';
import type {
  AdminTokenListResponse,
  DeviceList,
  EventDetail,
  EventList,
  StaffListResponse,
  TicketDetail,
  UserListResponse,
} from '@entrada/core';

export const keys = {
  events: ['events'] as const,
  event: (id: string) => ['events', id] as const,
  staff: (eventId: string) => ['events', eventId, 'staff'] as const,
  tickets: (eventId: string, q: string) => ['events', eventId, 'tickets', q] as const,
  ticket: (id: string) => ['tickets', id] as const,
  devices: ['devices'] as const,
  users: ['users'] as const,
  tokens: ['tokens'] as const,
};

export const eventsQuery = () =>
  queryOptions({
    queryKey: keys.events,
    queryFn: async () => (await api.get<EventList>('/api/v1/events')).events,
  });
export const eventQuery = (id: string) =>
  queryOptions({ queryKey: keys.event(id), queryFn: () => api.get<EventDetail>(`/api/v1/events/${id}`) });
export const staffQuery = (eventId: string) =>
  queryOptions({
    queryKey: keys.staff(eventId),
    queryFn: async () => (await api.get<StaffListResponse>(`/api/v1/events/${eventId}/staff`)).staff,
  });
export const ticketQuery = (id: string) =>
  queryOptions({ queryKey: keys.ticket(id), queryFn: () => api.get<TicketDetail>(`/api/v1/tickets/${id}`) });
/** One event's devices, a server page at a time (cursor); under keys.devices, so every device change refreshes it. */
export const eventDevicesQuery = (eventId: string) =>
  infiniteQueryOptions({
    queryKey: [...keys.devices, 'event', eventId] as const,
    initialPageParam: '',
    queryFn: ({ pageParam }) =>
      api.get<DeviceList>(
        `/api/v1/devices?${new URLSearchParams({ event_id: eventId, limit: '200', ...(pageParam ? { cursor: pageParam } : {}) })}`,
      ),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
export const devicesQuery = () =>
  queryOptions({
    queryKey: keys.devices,
    queryFn: async () => (await api.get<DeviceList>('/api/v1/devices')).devices,
  });
export const usersQuery = () =>
  queryOptions({
    queryKey: keys.users,
    queryFn: async () => (await api.get<UserListResponse>('/api/v1/users')).users,
  });
export const tokensQuery = () =>
  queryOptions({
    queryKey: keys.tokens,
    queryFn: async () => (await api.get<AdminTokenListResponse>('/api/v1/tokens')).tokens,
  });
