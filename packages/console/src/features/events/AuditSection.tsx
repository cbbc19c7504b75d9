/**
 * Who changed what in the event's set-up (GET /events/:id/audit, cursor pages of core's AuditPage).
 * Hidden where the server has no audit log yet (404).
 */
import type { AuditEntry, AuditPage } from '@entrada/core';
import { useInfiniteQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { api, ApiError, errorText } from '../../api/client.ts';
import { dateTime } from '../../lib/time.ts';
import { ErrorBox } from '../../ui/kit.tsx';

function changes(e: AuditEntry): string {
  const before = e.before ?? {};
  const after = e.after ?? {};
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
    (k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]),
  );
  return (
    keys.map((k) => `${k}: ${JSON.stringify(before[k] ?? null)} → ${JSON.stringify(after[k] ?? null)}`).join('; ') ||
    '—'
  );
}

export function AuditSection({ eventId, tz }: { eventId: string; tz: string }): ReactNode {
  const audit = useInfiniteQuery({
    queryKey: ['events', eventId, 'audit'],
    initialPageParam: '',
    queryFn: ({ pageParam }) =>
      api.get<AuditPage>(
        `/api/v1/events/${eventId}/audit?limit=50${pageParam ? `&cursor=${encodeURIComponent(pageParam)}` : ''}`,
      ),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  if (audit.error instanceof ApiError && audit.error.status === 404) return null;
  const entries = audit.data?.pages.flatMap((p) => p.entries) ?? [];
  return (
    <section className="panel" aria-labelledby="audit-h">
      <h2 id="audit-h">Changes</h2>
      <ErrorBox error={audit.error ? errorText(audit.error) : null} />
      {audit.data && entries.length === 0 && <p className="empty">No changes recorded yet.</p>}
      {entries.length > 0 && (
        <table className="simple">
          <thead>
            <tr>
              <th scope="col">When ({tz})</th>
              <th scope="col">Who</th>
              <th scope="col">What</th>
              <th scope="col">Changed</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id}>
                <td>{dateTime(e.at, tz)}</td>
                {/* The actor's name; the recorded actor (user:<id> or token:<id>) on hover, or shown when it names no one. */}
                <td title={e.actor}>{e.actor_name ?? e.actor}</td>
                <td>{e.action}</td>
                <td className="wrap">{changes(e)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {audit.hasNextPage && (
        <button type="button" onClick={() => void audit.fetchNextPage()} disabled={audit.isFetchingNextPage}>
          Show older changes
        </button>
      )}
    </section>
  );
}
