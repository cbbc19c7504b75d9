import { isInside } from '@entrada/core';
import type { Database } from '../../db/database.ts';
import { manifestTickets, type ManifestRow } from '../../store/changes.ts';
import type { EventContext } from '../event-context.ts';
import type { Cursors } from './cursor.ts';
import { NIL_UUID } from './cursor.ts';

const MANIFEST_LIFETIME_MS = 12 * 3600_000;
/** The manifest ships 8 bytes of each imported code's keyed digest: enough to match, too little to help a thief. */
export const MANIFEST_DIGEST_BYTES = 8;

const iso = (v: number | null | undefined): string | null => (v == null ? null : new Date(v).toISOString());

export interface ManifestTicket {
  ticket_id: string; serial: number; number: string; tier: string; type_id: string; zones: readonly string[]; max_scans: number;
  current_scans: number; inside: boolean; status: string; status_changed_at?: string | null; code_digest?: string; holder_name?: string | null;
  first_scan?: { at: string; device_id: string; gate_id: string | null };
  last_scan?: { at: string; direction: string; device_id: string; gate_id: string | null };
}

/**
 * What a device needs to decide offline: the event's rules, gates, zones, ticket
 * types and public keys, and every ticket's status and scan state. Imported
 * codes appear only as a keyed digest; holder names only when the event allows.
 * With `since`, only tickets changed since that cursor (`full: false`).
 */
export class ManifestService {
  constructor(private readonly db: Database, private readonly cursors: Cursors, private readonly now: () => number = Date.now) {}

  async build(ctx: EventContext, since: string | undefined): Promise<Record<string, unknown>> {
    const position = since ? this.cursors.decode('manifest', ctx.event.id, since) : null;
    // An unknown or foreign cursor is not an error: the device gets a full manifest and starts over.
    const { xmin, rows } = await manifestTickets(this.db, ctx.event.id, position?.tx ?? null);
    const now = this.now();
    return {
      success: true,
      manifest: {
        event_id: ctx.event.id,
        event: { id: ctx.event.id, ref: ctx.event.ref, name: ctx.event.name, timezone: ctx.event.timezone, starts_at: iso(ctx.event.startsAt), ends_at: iso(ctx.event.endsAt) },
        generated_at: iso(now),
        expires_at: iso(now + MANIFEST_LIFETIME_MS),
        cursor: this.cursors.encode('manifest', ctx.event.id, { tx: xmin, kind: 0, id: NIL_UUID }),
        // Where this device's download feed starts: everything before it is already in this manifest.
        feed_cursor: this.cursors.encode('feed', ctx.event.id, { tx: xmin, kind: 0, id: NIL_UUID }),
        full: position === null,
        ticket_count: rows.length,
        tickets: rows.map((r) => this.ticket(ctx, r)),
        policies: {
          duplicate_window_s: ctx.settings.duplicateWindowS,
          default_allow_reentry: ctx.settings.defaultAllowReentry,
          holder_names: ctx.settings.offlineHolderNames,
          timezone: ctx.event.timezone,
        },
        gates: [...ctx.gates.values()].map((g) => ({ id: g.id, name: g.name, zone_ids: g.zoneIds })),
        zones: [...ctx.zones.values()].map((z) => ({ id: z.id, name: z.name, capacity: z.capacity })),
        ticket_types: [...ctx.types.values()].map((t) => ({
          id: t.id, ref: t.ref, name: t.name, zone_ids: t.zoneIds, max_scans: t.maxScans, allow_reentry: t.allowReentry,
          valid_from: iso(t.validFrom), valid_until: iso(t.validUntil),
        })),
        keys: [...ctx.publicKeys.entries()].map(([keyId, pk]) => ({ key_id: keyId, public_key: Buffer.from(pk).toString('base64url'), active: keyId === ctx.activeKeyId })),
        code_digest: { algorithm: 'hmac-sha256', bytes: MANIFEST_DIGEST_BYTES, key: ctx.codeKey.toString('base64url') },
      },
    };
  }

  private ticket(ctx: EventContext, r: ManifestRow): ManifestTicket {
    const t = r.ticket;
    const type = ctx.types.get(t.typeId);
    const out: ManifestTicket = {
      ticket_id: t.id, serial: t.serial, number: t.number, tier: type?.name ?? '', type_id: t.typeId, zones: type?.zoneIds ?? [],
      max_scans: type?.maxScans ?? 1, current_scans: t.state.entries, inside: isInside(t.state), status: t.status,
    };
    if (t.status !== 'valid') out.status_changed_at = iso(t.statusChangedAt);
    if (r.codeKind === 'imported') out.code_digest = Buffer.from(r.digestHex, 'hex').subarray(0, MANIFEST_DIGEST_BYTES).toString('base64url');
    if (ctx.settings.offlineHolderNames) out.holder_name = t.holderName;
    if (t.state.first) out.first_scan = { at: iso(t.state.first.at)!, device_id: t.state.first.deviceId, gate_id: t.state.first.gateId };
    if (t.state.last) out.last_scan = { at: iso(t.state.last.at)!, direction: t.state.last.direction, device_id: t.state.last.deviceId, gate_id: t.state.last.gateId };
    return out;
  }
}
