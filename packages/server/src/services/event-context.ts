import {
  capacityManaged,
  CODE_DIGEST_LENGTH,
  codeDigest,
  type CodeScope,
  type EventPolicy,
  type GatePolicy,
  type Signer,
  type TicketTypePolicy,
} from '@entrada/core';
import type { Sql } from '../db/database.ts';
import { nodeSigner } from '../crypto/ed25519-node.ts';
import { hmacSha256Hex, nodeHmacSha256 } from '../crypto/hmac-node.ts';
import { deriveKey, unseal } from '../crypto/seal.ts';
import { loadEventAggregate, type EventRow, type GateRow, type TicketTypeRow, type ZoneRow } from '../store/events.ts';

export interface EventSettingsResolved {
  duplicateWindowS: number;
  defaultAllowReentry: boolean;
  offlineHolderNames: boolean;
  /** The manifest ships each ticket's code (`ticket_code`, seed 000): off unless the organiser turned it on knowingly. */
  manifestTicketCodes: boolean;
}
export type GateContext = GateRow & { policy: GatePolicy };
export type TypeContext = TicketTypeRow & { policy: TicketTypePolicy };

/** Everything about one event that scanning needs, resolved once and cached per instance. */
export interface EventContext {
  event: EventRow;
  settings: EventSettingsResolved;
  policy: EventPolicy;
  zones: Map<string, ZoneRow>;
  /** Some zone counts its capacity (mode warn or enforce): entries into it are decided under its lock. */
  capacityManaged: boolean;
  gates: Map<string, GateContext>;
  types: Map<string, TypeContext>;
  typesByRef: Map<number, TypeContext>;
  publicKeys: Map<number, Uint8Array>;
  activeKeyId: number | null;
  /**
   * The organisation's other events (not ended more than a week ago): their
   * public keys by key id, by event ref. What tells another event's genuine
   * code (`wrong_event`) from a forged one; shipped in the manifest too.
   */
  siblingKeys: Map<number, Map<number, Uint8Array>>;
  /** What core's code classifier needs to know about this event. */
  codeScope: CodeScope;
  /** Key of the keyed code digest (shipped to authenticated devices in the manifest). */
  codeKey: Buffer;
  /** Core's keyed code digest under the event's digest key, with node's HMAC. */
  digest(code: string): Buffer;
  /** The same digest as lowercase hex, computed without a Buffer (the sync keys every scan's code: hmacSha256Hex). */
  digestHex(code: string): string;
  /** The signer of the active key; unsealed on first use. */
  signer(): { keyId: number; sign: Signer };
}

export function resolveSettings(raw: Record<string, unknown>): EventSettingsResolved {
  return {
    duplicateWindowS: typeof raw.duplicate_window_s === 'number' ? raw.duplicate_window_s : 300,
    defaultAllowReentry: raw.default_allow_reentry === true,
    offlineHolderNames: raw.offline_holder_names === true,
    manifestTicketCodes: raw.manifest_ticket_codes === true,
  };
}

const TTL_MS = 30_000;

export class EventContexts {
  private readonly entries = new Map<
    string,
    { at: number; ctx: Promise<EventContext | null>; organisationId?: string | undefined }
  >();
  private readonly keySealKey: Buffer;

  constructor(
    private readonly sql: Sql,
    serverSecret: Buffer,
    private readonly now: () => number = Date.now,
  ) {
    this.keySealKey = deriveKey(serverSecret, 'event-keys');
  }

  get(eventId: string): Promise<EventContext | null> {
    const hit = this.entries.get(eventId);
    if (hit && this.now() - hit.at < TTL_MS) return hit.ctx;
    const ctx = this.load(eventId);
    const entry: { at: number; ctx: Promise<EventContext | null>; organisationId?: string | undefined } = {
      at: this.now(),
      ctx,
    };
    this.entries.set(eventId, entry);
    ctx.then(
      (c) => {
        entry.organisationId = c?.event.organisationId;
      },
      () => this.entries.delete(eventId),
    );
    return ctx;
  }

  /** Reload now: after a local change, or when a gate or type id is not in the cached copy. */
  refresh(eventId: string): Promise<EventContext | null> {
    this.entries.delete(eventId);
    return this.get(eventId);
  }

  invalidate(eventId: string): void {
    this.entries.delete(eventId);
  }

  /** Forgets the organisation's events (and any still loading): their contexts list the organisation's other events. */
  invalidateOrganisation(organisationId: string): void {
    for (const [eventId, entry] of this.entries) {
      if (entry.organisationId === undefined || entry.organisationId === organisationId) this.entries.delete(eventId);
    }
  }

  private async load(eventId: string): Promise<EventContext | null> {
    const agg = await loadEventAggregate(this.sql, eventId);
    if (!agg) return null;
    const settings = resolveSettings(agg.event.settings);
    const gates = new Map(
      agg.gates.map((g) => [g.id, { ...g, policy: { id: g.id, zoneIds: g.zoneIds, closedAt: g.closedAt ?? null } }]),
    );
    const types = new Map(
      agg.types.map((t) => [
        t.id,
        {
          ...t,
          policy: {
            id: t.id,
            name: t.name,
            zoneIds: t.zoneIds,
            maxScans: t.maxScans,
            allowReentry: t.allowReentry,
            validFrom: t.validFrom,
            validUntil: t.validUntil,
          },
        },
      ]),
    );
    const active = agg.keys.filter((k) => k.active).at(-1) ?? null;
    const codeKey = agg.codeKey;
    const codeHmacHex = hmacSha256Hex(codeKey);
    let signer: { keyId: number; sign: Signer } | null = null;
    const sealKey = this.keySealKey;
    const publicKeys = new Map(agg.keys.map((k) => [k.keyId, new Uint8Array(k.publicKey)]));
    const siblingKeys = new Map(
      agg.siblings.map((o) => [o.ref, new Map(o.keys.map((k) => [k.keyId, new Uint8Array(k.publicKey)]))]),
    );
    const codeScope: CodeScope = {
      eventRef: agg.event.ref,
      keys: (id) => publicKeys.get(id),
      otherEvents: (ref) => {
        const keys = siblingKeys.get(ref);
        return keys && ((id) => keys.get(id));
      },
    };
    return {
      event: agg.event,
      settings,
      policy: { id: agg.event.id, timezone: agg.event.timezone, duplicateWindowMs: settings.duplicateWindowS * 1000 },
      zones: new Map(agg.zones.map((z) => [z.id, z])),
      capacityManaged: agg.zones.some((z) => capacityManaged({ id: z.id, capacity: z.capacity, mode: z.capacityMode })),
      gates,
      types,
      typesByRef: new Map([...types.values()].map((t) => [t.ref, t])),
      publicKeys,
      activeKeyId: active?.keyId ?? null,
      siblingKeys,
      codeScope,
      codeKey,
      digest: (code) => {
        const d = codeDigest(codeKey, code, nodeHmacSha256);
        return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
      },
      // codeDigest is the HMAC's first CODE_DIGEST_LENGTH bytes (core's codes/digest.ts).
      digestHex: (code) => codeHmacHex(code).slice(0, CODE_DIGEST_LENGTH * 2),
      signer() {
        if (!active) throw new Error(`event ${agg.event.id} has no active signing key`);
        signer ??= { keyId: active.keyId, sign: nodeSigner(unseal(sealKey, active.sealedSecret), active.publicKey) };
        return signer;
      },
    };
  }
}
