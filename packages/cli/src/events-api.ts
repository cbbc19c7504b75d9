import type { EventDetail } from './api-types.ts';
import { ApiError, CliError } from './errors.ts';
import { requireUuid, type HttpClient } from './http-client.ts';

/** Turns the API's bare "Event not found" into what to do about it. */
export function explainEventError(err: unknown, eventId: string): unknown {
  if (err instanceof ApiError && err.status === 404 && /event/i.test(err.serverMessage)) {
    return new CliError(
      `event ${eventId} not found for this admin token (NOT_FOUND); \`entrada events list\` shows the events you can use`,
    );
  }
  return err;
}

export async function fetchEvent(client: HttpClient, eventId: string): Promise<EventDetail> {
  requireUuid(eventId, '--event', 'an event');
  try {
    return await client.get<EventDetail>(`/api/v1/events/${eventId}`);
  } catch (err) {
    throw explainEventError(err, eventId);
  }
}
