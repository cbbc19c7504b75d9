import type { Database } from '../db/database.ts';
import { invalid } from './errors.ts';
import { listEventAudit, type AuditRecord } from '../store/audit.ts';
import type { EventService } from './event-service.ts';

/** The organisation and actor of a set-up change (`user:<id>` for a console session, `token:<id>` for an admin token). */
export interface Caller {
  organisationId: string;
  actor: string;
}

export function callerOf(admin: { actor: string; organisationId: string }): Caller {
  return { organisationId: admin.organisationId, actor: admin.actor };
}

const encodeCursor = (r: AuditRecord): string => Buffer.from(JSON.stringify([r.position, r.id])).toString('base64url');
function decodeCursor(cursor: string): { at: string; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (
      typeof at === 'string' &&
      /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(at) &&
      typeof id === 'string' &&
      /^[0-9a-f-]{36}$/.test(id)
    )
      return { at, id };
  } catch {
    /* answered below */
  }
  throw invalid('cursor is not one this server gave; start again without it');
}

/** Reading the audit log (entries are written by each service, in the transaction of the change). */
export class AuditService {
  constructor(
    private readonly db: Database,
    private readonly events: EventService,
  ) {}

  async eventPage(
    organisationId: string,
    eventId: string,
    cursor: string | undefined,
    limit: number,
  ): Promise<{ entries: AuditRecord[]; nextCursor: string | null }> {
    await this.events.get(organisationId, eventId);
    const rows = await listEventAudit(
      this.db,
      organisationId,
      eventId,
      cursor ? decodeCursor(cursor) : null,
      limit + 1,
    );
    const entries = rows.slice(0, limit);
    return { entries, nextCursor: rows.length > limit ? encodeCursor(entries.at(-1)!) : null };
  }
}
