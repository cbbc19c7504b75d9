/**
 * Who changed what in the event's set-up (GET /events/:id/audit, cursor pages).
 * The entries are read loosely: the audit endpoint is new, and a field it names
 * differently shows as "—" rather than breaking the screen. Hidden where the
 * server has no audit log yet.
 */
import { useInfiniteQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { api, ApiError, errorText } from '../../api/client.ts';
import { dateTime } from '../../lib/time.ts';
import { ErrorBox } from '../../ui/kit.tsx';

type Entry = Record<string, unknown>;
interface AuditPage {
  entries?: Entry[];
  audit?: Entry[];
  items?: Entry[];
  next_cursor?: string | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

function who(e: Entry): string {
  const actor = e.actor as Record<string, unknown> | undefined;
  return str(e.actor_name) ?? str(actor?.name) ?? str(actor?.email) ?? str(e.actor_type) ?? '—';
}

function what(e: Entry): string {
  const action = str(e.action) ?? '';
  const kind = str(e.entity_type) ?? str(e.object_type) ?? str(e.target_type) ?? '';
  return `${action} ${kind}`.trim() || '—';
}

function changes(e: Entry): string {
  const before = (e.before ?? {}) as Record<string, unknown>;
  const after = (e.after ?? {}) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])].filter(
    (k) => JSON.stringify(before?.[k]) !== JSON.stringify(after?.[k]),
  );
  return (
    keys
      .map((k) => `${k}: ${JSON.stringify(before?.[k] ?? null)} → ${JSON.stringify(after?.[k] ?? null)}`)
      .join('; ') || '—'
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
  const entries = audit.data?.pages.flatMap((p) => p.entries ?? p.audit ?? p.items ?? []) ?? [];
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
            {entries.map((e, i) => (
              <tr key={str(e.id) ?? i}>
                <td>{dateTime(str(e.at) ?? str(e.created_at), tz)}</td>
                <td>{who(e)}</td>
                <td>{what(e)}</td>
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
