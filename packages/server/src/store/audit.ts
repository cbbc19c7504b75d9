import type { Sql } from '../db/database.ts';
import { ms } from './rows.ts';

export interface AuditWrite {
  organisationId: string;
  eventId: string | null;
  actor: string;
  action: string;
  subjectKind: string;
  subjectId: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

export interface AuditRecord extends AuditWrite {
  id: string;
  at: number;
  position: string;
  /** The actor's name now (the user's name or email, the admin token's name); null when it names no one any more. */
  actorName: string | null;
}

/** Written in the transaction of the change it records (the caller's `tx`). */
export async function insertAudit(sql: Sql, a: AuditWrite): Promise<void> {
  await sql.query(
    `INSERT INTO audit_log (organisation_id, event_id, actor, action, subject_kind, subject_id, before, after)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      a.organisationId,
      a.eventId,
      a.actor,
      a.action,
      a.subjectKind,
      a.subjectId,
      a.before === null ? null : JSON.stringify(a.before),
      a.after === null ? null : JSON.stringify(a.after),
    ],
  );
}

interface RawAudit {
  id: string;
  organisation_id: string;
  event_id: string | null;
  actor: string;
  action: string;
  subject_kind: string;
  subject_id: string;
  before: unknown;
  after: unknown;
  at: Date;
  at_text: string;
  actor_name: string | null;
}
const parse = (v: unknown): Record<string, unknown> | null =>
  v === null ? null : ((typeof v === 'string' ? JSON.parse(v) : v) as Record<string, unknown>);

// `user:<uuid>` / `token:<uuid>`: anything else (the demo's 'system') is not cast, so it joins no row.
const UUID_RE = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/**
 * One page of an event's audit entries, oldest first, after the (at, id)
 * position `after` (at as PostgreSQL's text, microseconds kept); one more row
 * than `limit` tells whether a next page exists. Each entry's actor is named
 * by joining the page (not the whole log) to users and admin tokens on their
 * primary keys.
 */
export async function listEventAudit(
  sql: Sql,
  organisationId: string,
  eventId: string,
  after: { at: string; id: string } | null,
  limit: number,
): Promise<AuditRecord[]> {
  const rows = await sql.query<RawAudit>(
    `WITH page AS (
       SELECT id, organisation_id, event_id, actor, action, subject_kind, subject_id, before, after, at
       FROM audit_log
       WHERE event_id = $1 AND organisation_id = $2 AND ($3::timestamptz IS NULL OR (at, id) > ($3::timestamptz, $4::uuid))
       ORDER BY at, id LIMIT $5
     )
     SELECT p.id, p.organisation_id, p.event_id, p.actor, p.action, p.subject_kind, p.subject_id, p.before, p.after, p.at,
        to_char(p.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at_text,
        COALESCE(NULLIF(btrim(u.name), ''), u.email, t.name) AS actor_name
     FROM page p
     LEFT JOIN users u ON u.id = (CASE WHEN p.actor ~ '^user:${UUID_RE}$' THEN substr(p.actor, 6)::uuid END)
     LEFT JOIN admin_tokens t ON t.id = (CASE WHEN p.actor ~ '^token:${UUID_RE}$' THEN substr(p.actor, 7)::uuid END)
     ORDER BY p.at, p.id`,
    [eventId, organisationId, after?.at ?? null, after?.id ?? null, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    organisationId: r.organisation_id,
    eventId: r.event_id,
    actor: r.actor,
    actorName: r.actor_name,
    action: r.action,
    subjectKind: r.subject_kind,
    subjectId: r.subject_id,
    before: parse(r.before),
    after: parse(r.after),
    at: ms(r.at)!,
    position: r.at_text,
  }));
}

/** Several entries in one statement (a bulk change audits each subject, set-based). */
export async function insertAudits(sql: Sql, list: readonly AuditWrite[]): Promise<void> {
  if (list.length === 0) return;
  const col = <T>(f: (a: AuditWrite) => T): T[] => list.map(f);
  await sql.query(
    `INSERT INTO audit_log (organisation_id, event_id, actor, action, subject_kind, subject_id, before, after)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::jsonb[])`,
    [
      col((a) => a.organisationId),
      col((a) => a.eventId),
      col((a) => a.actor),
      col((a) => a.action),
      col((a) => a.subjectKind),
      col((a) => a.subjectId),
      col((a) => (a.before === null ? null : JSON.stringify(a.before))),
      col((a) => (a.after === null ? null : JSON.stringify(a.after))),
    ],
  );
}
