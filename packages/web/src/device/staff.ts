import type { ClientStore } from '@entrada/client';
import { postJson } from './api.ts';

export interface StaffSession {
  id: string;
  username: string;
  name: string;
  loggedInAt: number;
}

const KEY = (eventId: string): string => `staff:${eventId}`;

interface LoginResponse {
  staff: { id: string; username: string; name: string };
  event_id: string;
  logged_in_at: string;
}

/** Staff log in per event (seed 001's event login); the server logs every attempt and rate-limits failures. */
export async function staffLogin(
  store: ClientStore,
  token: string,
  eventId: string,
  username: string,
  pin: string,
): Promise<StaffSession> {
  const r = await postJson<LoginResponse>(
    `/api/v1/events/${encodeURIComponent(eventId)}/login`,
    { username, pin },
    token,
  );
  const session: StaffSession = { ...r.staff, loggedInAt: Date.parse(r.logged_in_at) || Date.now() };
  await store.setMeta(KEY(eventId), session);
  return session;
}

export async function loadStaff(store: ClientStore, eventId: string): Promise<StaffSession | null> {
  return (await store.getMeta<StaffSession | null>(KEY(eventId))) ?? null;
}

export async function staffLogout(store: ClientStore, eventId: string): Promise<void> {
  await store.setMeta(KEY(eventId), null);
}
