import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import {
  isInside,
  type ManifestDocument,
  type ManifestHeader,
  type ManifestStatusChange,
  type ManifestTicket,
  type TicketStatusChange,
} from '@entrada/core';
import type { ManifestRow } from '../../store/changes.ts';
import type { EventContext } from '../event-context.ts';

/** The manifest ships 8 bytes of each imported code's keyed digest: enough to match, too little to help a thief. */
export const MANIFEST_DIGEST_BYTES = 8;

const iso = (v: number | null | undefined): string | null => (v == null ? null : new Date(v).toISOString());

/** A manifest's ticket: core's wire type (the field ticket_code only with the event setting `manifest_ticket_codes`, see MANIFEST_TICKET_CODES_RISK). */
export type { ManifestTicket };

/** A ticket's status history as the manifest and the feed carry it (few tickets have one: only those ever changed). */
export function statusHistoryJson(history: readonly TicketStatusChange[]): ManifestStatusChange[] {
  return history.map((c) => ({ at: new Date(c.at).toISOString(), status: c.status }));
}

export function manifestTicket(ctx: EventContext, r: ManifestRow, code?: string): ManifestTicket {
  const t = r.ticket;
  const type = ctx.types.get(t.typeId);
  const out: ManifestTicket = {
    ticket_id: t.id,
    serial: t.serial,
    number: t.number,
    tier: type?.name ?? '',
    type_id: t.typeId,
    zones: type?.zoneIds ?? [],
    max_scans: type?.maxScans ?? 1,
    current_scans: t.state.entries,
    inside: isInside(t.state),
    status: t.status,
  };
  if (t.status !== 'valid' || t.statusChangedAt !== null) out.status_changed_at = iso(t.statusChangedAt);
  if (t.statusHistory.length > 0) out.status_history = statusHistoryJson(t.statusHistory);
  if (r.codeKind === 'imported' && r.digestHex)
    out.code_digest = Buffer.from(r.digestHex, 'hex').subarray(0, MANIFEST_DIGEST_BYTES).toString('base64url');
  if (ctx.settings.offlineHolderNames) out.holder_name = t.holderName;
  if (code !== undefined) out.ticket_code = code;
  if (t.state.first)
    out.first_scan = { at: iso(t.state.first.at)!, device_id: t.state.first.deviceId, gate_id: t.state.first.gateId };
  if (t.state.last)
    out.last_scan = {
      at: iso(t.state.last.at)!,
      direction: t.state.last.direction,
      device_id: t.state.last.deviceId,
      gate_id: t.state.last.gateId,
    };
  return out;
}

/**
 * What a manifest takes from the event's configuration (rules, gates, zones,
 * ticket types, keys, the organisation's other events' keys), and a digest of it: two manifests built from contexts
 * with the same key are the same apart from their tickets. The ticket fields
 * that come from the context (tier, zones, max_scans, holder_name) follow
 * from the ticket types and policies, which are in it.
 */
export interface ContextPart {
  key: string;
  event: ManifestHeader['event'];
  /** Everything of the document after its tickets (written once per context). */
  rest: Omit<
    ManifestDocument,
    | 'event_id'
    | 'event'
    | 'generated_at'
    | 'expires_at'
    | 'cursor'
    | 'feed_cursor'
    | 'full'
    | 'tickets'
    | 'ticket_count'
  >;
}

export function contextPart(ctx: EventContext): ContextPart {
  const event: ContextPart['event'] = {
    id: ctx.event.id,
    ref: ctx.event.ref,
    name: ctx.event.name,
    timezone: ctx.event.timezone,
    starts_at: iso(ctx.event.startsAt),
    ends_at: iso(ctx.event.endsAt),
  };
  const rest: ContextPart['rest'] = {
    policies: {
      duplicate_window_s: ctx.settings.duplicateWindowS,
      default_allow_reentry: ctx.settings.defaultAllowReentry,
      holder_names: ctx.settings.offlineHolderNames,
      // Turning codes on or off changes the manifest's context key: a cached manifest of the other setting is not served.
      ticket_codes: ctx.settings.manifestTicketCodes,
      timezone: ctx.event.timezone,
    },
    // A closed gate carries closed_at (enforcing it at the gate is issue #14).
    gates: [...ctx.gates.values()].map((g) => ({
      id: g.id,
      name: g.name,
      zone_ids: g.zoneIds,
      ...(g.closedAt != null ? { closed_at: iso(g.closedAt) } : {}),
    })),
    zones: [...ctx.zones.values()].map((z) => ({
      id: z.id,
      name: z.name,
      capacity: z.capacity,
      capacity_mode: z.capacityMode,
    })),
    ticket_types: [...ctx.types.values()].map((t) => ({
      id: t.id,
      ref: t.ref,
      name: t.name,
      zone_ids: t.zoneIds,
      max_scans: t.maxScans,
      allow_reentry: t.allowReentry,
      valid_from: iso(t.validFrom),
      valid_until: iso(t.validUntil),
    })),
    keys: [...ctx.publicKeys.entries()].map(([keyId, pk]) => ({
      key_id: keyId,
      public_key: Buffer.from(pk).toString('base64url'),
      active: keyId === ctx.activeKeyId,
    })),
    // The organisation's other events' public keys (not secret): the scanner tells another event's genuine ticket
    // (`wrong_event`) from a forged code exactly as the server does. In the key below, so a change rebuilds the manifest.
    other_events: [...ctx.siblingKeys.entries()].map(([ref, keys]) => ({
      ref,
      keys: [...keys.entries()].map(([keyId, pk]) => ({
        key_id: keyId,
        public_key: Buffer.from(pk).toString('base64url'),
      })),
    })),
    code_digest: { algorithm: 'hmac-sha256', bytes: MANIFEST_DIGEST_BYTES, key: ctx.codeKey.toString('base64url') },
  };
  const key = createHash('sha256')
    .update(JSON.stringify([event, rest]))
    .digest('base64url');
  return { key, event, rest };
}

export interface ManifestHead {
  eventId: string;
  generatedAt: string;
  expiresAt: string;
  cursor: string;
  feedCursor: string;
  full: boolean;
}

/**
 * The response as JSON text in pieces: the fields before the tickets, the
 * tickets a page at a time, then the rest. Same fields and values as
 * JSON.stringify of the whole document, except that `ticket_count` follows
 * the tickets: they are read in pages, so the count is known only at the end.
 */
export async function* manifestJson(
  part: ContextPart,
  head: ManifestHead,
  pages: AsyncIterable<readonly ManifestTicket[]>,
): AsyncGenerator<string> {
  const before = {
    success: true,
    manifest: {
      event_id: head.eventId,
      event: part.event,
      generated_at: head.generatedAt,
      expires_at: head.expiresAt,
      cursor: head.cursor,
      // Where this device's download feed starts: everything before it is already in this manifest.
      feed_cursor: head.feedCursor,
      full: head.full,
    },
  };
  const open = JSON.stringify(before);
  // `{"success":true,"manifest":{…}}` without its two closing braces, then the tickets array.
  yield `${open.slice(0, -2)},"tickets":[`;
  let count = 0;
  for await (const page of pages) {
    if (page.length === 0) continue;
    yield (count > 0 ? ',' : '') + page.map((t) => JSON.stringify(t)).join(',');
    count += page.length;
  }
  yield `],${JSON.stringify({ ticket_count: count, ...part.rest }).slice(1)}}`;
}

/**
 * Gzips text pieces as they come, so only the current piece and the
 * compressed output (~1/45 of the JSON for a manifest) are held, never the
 * whole JSON text. Compression runs on libuv's thread pool.
 */
export async function gzipPieces(pieces: AsyncIterable<string>): Promise<Buffer> {
  const gz = createGzip({ level: 6 });
  const out: Buffer[] = [];
  gz.on('data', (chunk: Buffer) => out.push(chunk));
  const ended = once(gz, 'end');
  // Awaited below; a failure while writing must not also surface as an unhandled rejection of this one.
  ended.catch(() => undefined);
  try {
    for await (const piece of pieces) {
      if (!gz.write(piece)) await once(gz, 'drain');
    }
    gz.end();
    await ended;
  } catch (err) {
    gz.destroy();
    throw err;
  }
  return Buffer.concat(out);
}
