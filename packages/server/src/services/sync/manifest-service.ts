import type { Database } from '../../db/database.ts';
import { SizedLru } from '../../cache/sized-lru.ts';
import { ConcurrencyLimit, QueueFullError } from '../../http/concurrency-limit.ts';
import { DomainError } from '../errors.ts';
import {
  manifestChangedSince,
  manifestChangedTickets,
  manifestPosition,
  manifestSnapshot,
  manifestTicketPage,
  type ManifestRow,
  type ManifestSnapshot,
} from '../../store/changes.ts';
import type { EventContext } from '../event-context.ts';
import { MAX_UUID, NIL_UUID, type Cursors, type Position } from './cursor.ts';
import {
  contextPart,
  gzipPieces,
  manifestJson,
  manifestTicket,
  type ContextPart,
  type ManifestTicket,
} from './manifest-document.ts';
import { SingleFlight } from './single-flight.ts';

export { MANIFEST_DIGEST_BYTES, type ManifestTicket } from './manifest-document.ts';

const MANIFEST_LIFETIME_MS = 12 * 3600_000;

export interface ManifestOptions {
  /**
   * Gzipped full manifests kept per instance, in bytes (least recently used
   * go first). 100,000 tickets are ~850 kB: the default holds ~75 such events.
   */
  cacheBytes: number;
  /** A cached manifest is rebuilt after this even if nothing changed, so its generated_at and expires_at stay truthful. */
  cacheMaxAgeMs: number;
  /**
   * A delta (`since=`) that would list more than this share of the event's
   * tickets, and more than `deltaMinTickets`, is answered with the full
   * manifest instead: it is about as large, and the full one is shared.
   */
  deltaMaxShare: number;
  deltaMinTickets: number;
  /** Tickets read and serialised at a time: what a build holds besides its compressed output. */
  pageSize: number;
  /**
   * Builds running at once per instance, and how many may wait; beyond that
   * the answer is 503 BUSY with Retry-After. Injectable so tests can hold it.
   */
  builds: ConcurrencyLimit;
  /** For Retry-After's jitter. */
  random: () => number;
  /**
   * The tickets' codes, for an event that ships them (`manifest_ticket_codes`): the ticket service's, which alone
   * unseals imported codes and re-issues signed ones. Without it no manifest carries codes.
   */
  codes?: ((ctx: EventContext, rows: readonly ManifestRow[]) => string[]) | undefined;
}

/** Two builds at once (each ~1 s of CPU at 100,000 tickets); eight more may wait, a few seconds at most. */
const DEFAULT_BUILDS_AT_ONCE = 2;
const DEFAULT_BUILDS_QUEUED = 8;
const MAX_RETRY_AFTER_S = 120;

/** The answer: the whole response body, gzipped. */
export interface ManifestAnswer {
  gzip: Buffer;
  full: boolean;
  ticketCount: number;
}

/** A manifest with what decides whether it can be served again. */
interface BuiltManifest extends ManifestAnswer {
  snapshot: ManifestSnapshot;
  /** The position its cursor hands out (manifestPosition). */
  position: string;
  contextKey: string;
  builtAt: number;
}

/** Every device that wanted this answer gave up (its request budget ran out): nothing was built. */
export class ManifestNotWantedError extends Error {}

/** Counted per instance, for tests and metrics. `shared`: requests that joined a build (or cache check) under way. */
export interface ManifestCounters {
  fullBuilds: number;
  deltaBuilds: number;
  cacheHits: number;
  fullInsteadOfDelta: number;
  busy: number;
  shared: number;
}

/**
 * What a device needs to decide offline: the event's rules, gates, zones,
 * ticket types and public keys, and every ticket's status and scan state.
 * Imported codes appear only as a keyed digest; holder names only when the
 * event allows. With `since`, only tickets changed since that cursor
 * (`full: false`).
 *
 * Devices of one event asking at about the same time get one build:
 * - the full manifest's gzipped bytes are cached per event, and served while
 *   a cheap query proves nothing in it changed since its snapshot and the
 *   event's configuration is the same (its digest; the context cache itself
 *   is invalidated across instances by the bus);
 * - identical requests in flight share one build (single flight);
 * - a delta too large to be worth building is answered with the full manifest.
 * A cached manifest keeps the cursor it was built with: everything it does
 * not show was written at or above that position, so the next delta still
 * finds it (cursors never skip a change). Cursors sit just after the event's
 * newest change below the horizon (manifestPosition), so they move with the
 * event's own changes only, never with other events' or organisations'.
 */
export class ManifestService {
  private readonly o: ManifestOptions;
  private readonly cache: SizedLru<string, BuiltManifest>;
  private readonly flights = new SingleFlight<BuiltManifest>();
  private readonly parts = new WeakMap<EventContext, ContextPart>();
  private readonly count: Omit<ManifestCounters, 'shared'> = {
    fullBuilds: 0,
    deltaBuilds: 0,
    cacheHits: 0,
    fullInsteadOfDelta: 0,
    busy: 0,
  };

  constructor(
    private readonly db: Database,
    private readonly cursors: Cursors,
    private readonly now: () => number = Date.now,
    options: Partial<ManifestOptions> = {},
  ) {
    this.o = {
      cacheBytes: options.cacheBytes ?? 64 * 1024 * 1024,
      cacheMaxAgeMs: options.cacheMaxAgeMs ?? 10 * 60_000,
      deltaMaxShare: options.deltaMaxShare ?? 0.25,
      // Below this a delta is cheap whatever the event's size (1,000 tickets are ~250 kB of JSON).
      deltaMinTickets: options.deltaMinTickets ?? 1_000,
      pageSize: options.pageSize ?? 5_000,
      builds: options.builds ?? new ConcurrencyLimit(DEFAULT_BUILDS_AT_ONCE, { maxQueued: DEFAULT_BUILDS_QUEUED, now }),
      random: options.random ?? Math.random,
      codes: options.codes,
    };
    this.cache = new SizedLru(this.o.cacheBytes, (m) => m.gzip.length);
  }

  /** Forgets every cached manifest (the next request builds): benchmarks measure a build this way. */
  clearCache(): void {
    this.cache.clear();
  }

  get counters(): ManifestCounters {
    return { ...this.count, shared: this.flights.joined };
  }

  /**
   * The manifest for `since` (absent, unknown or foreign: the full one).
   * `wanted` says whether the requester still waits; a build nobody waits for
   * any more is skipped. Throws a 503 BUSY DomainError when too many builds
   * are waiting already.
   */
  async answer(
    ctx: EventContext,
    since: string | undefined,
    wanted: () => boolean = () => true,
  ): Promise<ManifestAnswer> {
    const part = this.contextPart(ctx);
    // An unknown or foreign cursor is not an error: the device gets a full manifest and starts over.
    const position = since ? this.cursors.decode('manifest', ctx.event.id, since) : null;
    try {
      if (!position) return await this.full(ctx, part, wanted);
      return await this.flights.run(`${ctx.event.id} ${part.key} ${position.tx}`, wanted, (stillWanted) =>
        this.delta(ctx, part, position.tx, stillWanted),
      );
    } catch (err) {
      if (!(err instanceof QueueFullError)) throw err;
      this.count.busy++;
      // Jittered per request (not per shared build), so devices turned away together do not all come back together.
      const seconds = Math.min(
        MAX_RETRY_AFTER_S,
        Math.ceil((Math.max(1000, this.o.builds.expectedWaitMs()) * (1 + this.o.random())) / 1000),
      );
      throw new DomainError(
        'BUSY',
        'The server is building other manifests; try again after Retry-After seconds',
        { retry_after_s: seconds },
        { 'retry-after': String(seconds) },
      );
    }
  }

  private async delta(
    ctx: EventContext,
    part: ContextPart,
    sinceTx: string,
    stillWanted: () => boolean,
  ): Promise<BuiltManifest> {
    const changes = await manifestChangedTickets(this.db, ctx.event.id, sinceTx, {
      minTickets: this.o.deltaMinTickets,
      maxShare: this.o.deltaMaxShare,
    });
    const { ids } = changes;
    if (ids === null) {
      this.count.fullInsteadOfDelta++;
      // Instead of this delta: the full manifest must take the device at least as far as the delta would have.
      return this.full(ctx, part, stillWanted, manifestPosition(changes));
    }
    const build = async (): Promise<BuiltManifest> => {
      const built = await this.build(ctx, part, changes, false, this.idPages(ctx.event.id, ids, this.shipsCodes(ctx)));
      this.count.deltaBuilds++;
      return built;
    };
    // The limit is there for memory and CPU: a delta of one page costs about what a request does, and must not queue behind full builds.
    return ids.length <= this.o.pageSize ? build() : this.limited(build, stillWanted);
  }

  /**
   * The full manifest, from the cache when it is still exact. `after`: it
   * replaces a delta that would have handed out that position (the event's
   * newest change below the delta's horizon, plus one), so its own position
   * must be at or past it. Then the device's next delta lists none of the
   * changes that made this one too large: they are all below that position.
   *
   * At or past, not strictly past: an event position moves only when the
   * event changes, so a copy built before the delta, whose horizon had
   * already passed every change the delta found, hands out exactly the
   * delta's position — that copy is exact and as far along as any build
   * could be. A copy before it is not: one built while a long transaction
   * held the horizon back, say, shows the changes but places its cursor
   * before them, so the device's next delta would be as large again, and
   * every device would download the full manifest on every sync until
   * something changed. Such a copy is rebuilt, once for all the devices
   * asking at the time; a build started after the delta's statement sees a
   * horizon at or past the delta's (the oldest running transaction only
   * moves forward), so its position is at or past the delta's.
   *
   * (With cursors at the horizon itself, the rule compared with the device's
   * `since` and had to be strict: a horizon moves with any transaction, so
   * "not past the device's own cursor" was the sign of a held-back copy. An
   * event position equal to the device's own is that sign too — the delta
   * found changes after it — and `after >= since + 1` then rules it out.)
   */
  private async full(
    ctx: EventContext,
    part: ContextPart,
    wanted: () => boolean,
    after?: string,
  ): Promise<BuiltManifest> {
    const key = `${ctx.event.id} ${part.key} full`;
    const answer = await this.flights.run(key, wanted, (stillWanted) => this.cachedOrBuilt(ctx, part, stillWanted));
    if (after === undefined || BigInt(answer.position) >= BigInt(after)) return answer;
    return this.flights.run(`${key} past`, wanted, (stillWanted) => this.cachedOrBuilt(ctx, part, stillWanted, after));
  }

  private async cachedOrBuilt(
    ctx: EventContext,
    part: ContextPart,
    stillWanted: () => boolean,
    after?: string,
  ): Promise<BuiltManifest> {
    const eventId = ctx.event.id;
    const cached = this.cache.get(eventId);
    if (
      cached &&
      cached.contextKey === part.key &&
      this.now() - cached.builtAt < this.o.cacheMaxAgeMs &&
      (after === undefined || BigInt(cached.position) >= BigInt(after)) &&
      !(await manifestChangedSince(this.db, eventId, cached.snapshot))
    ) {
      this.count.cacheHits++;
      return cached;
    }
    const built = await this.limited(async () => {
      // Taken before any page is read: every page then sees at least what this snapshot saw (see manifestSnapshot).
      const snapshot = await manifestSnapshot(this.db, eventId);
      return this.build(ctx, part, snapshot, true, this.serialPages(eventId, this.shipsCodes(ctx)));
    }, stillWanted);
    this.count.fullBuilds++;
    const current = this.cache.peek(eventId);
    // A build for an older configuration that finishes late must not replace a newer one.
    if (!current || current.builtAt <= built.builtAt) this.cache.set(eventId, built);
    return built;
  }

  private async limited<T>(fn: () => Promise<T>, stillWanted: () => boolean): Promise<T> {
    return this.o.builds.run(async () => {
      if (!stillWanted()) throw new ManifestNotWantedError('every requester of this manifest has gone');
      return fn();
    });
  }

  private async build(
    ctx: EventContext,
    part: ContextPart,
    snapshot: ManifestSnapshot,
    full: boolean,
    pages: AsyncIterable<ManifestRow[]>,
  ): Promise<BuiltManifest> {
    const now = this.now();
    // Both cursors go on just after the event's newest change below the horizon (see manifestPosition): a delta
    // from `tx >= position`, the feed after every item of that change's transaction (as a feed page that has read
    // everything does), or from the start when the event has no change yet.
    const position = manifestPosition(snapshot);
    const feedPosition: Position =
      snapshot.lastTx === null ? { tx: '0', kind: 0, id: NIL_UUID } : { tx: snapshot.lastTx, kind: 1, id: MAX_UUID };
    let ticketCount = 0;
    const codesOf = ctx.settings.manifestTicketCodes ? this.o.codes : undefined;
    async function* tickets(): AsyncGenerator<ManifestTicket[]> {
      for await (const rows of pages) {
        ticketCount += rows.length;
        const codes = codesOf?.(ctx, rows);
        yield rows.map((r, i) => manifestTicket(ctx, r, codes?.[i]));
      }
    }
    const gzip = await gzipPieces(
      manifestJson(
        part,
        {
          eventId: ctx.event.id,
          generatedAt: new Date(now).toISOString(),
          expiresAt: new Date(now + MANIFEST_LIFETIME_MS).toISOString(),
          cursor: this.cursors.encode('manifest', ctx.event.id, { tx: position, kind: 0, id: NIL_UUID }),
          feedCursor: this.cursors.encode('feed', ctx.event.id, feedPosition),
          full,
        },
        tickets(),
      ),
    );
    return { gzip, full, ticketCount, snapshot, position, contextKey: part.key, builtAt: now };
  }

  /** Every ticket of the event, a page at a time in serial order. */
  private async *serialPages(eventId: string, withCodes: boolean): AsyncGenerator<ManifestRow[]> {
    let afterSerial = -1;
    for (;;) {
      const rows = await manifestTicketPage(this.db, eventId, { afterSerial, limit: this.o.pageSize }, withCodes);
      yield rows;
      if (rows.length < this.o.pageSize) return;
      afterSerial = rows.at(-1)!.ticket.serial;
    }
  }

  private async *idPages(eventId: string, ids: readonly string[], withCodes: boolean): AsyncGenerator<ManifestRow[]> {
    for (let i = 0; i < ids.length; i += this.o.pageSize) {
      yield await manifestTicketPage(this.db, eventId, { ids: ids.slice(i, i + this.o.pageSize) }, withCodes);
    }
  }

  /** Whether this event's manifest carries the tickets' codes (its setting, and a way to get them). */
  private shipsCodes(ctx: EventContext): boolean {
    return ctx.settings.manifestTicketCodes && this.o.codes !== undefined;
  }

  /** Computed once per loaded context (contexts are replaced, never changed, when the event's configuration changes). */
  private contextPart(ctx: EventContext): ContextPart {
    let part = this.parts.get(ctx);
    if (!part) {
      part = contextPart(ctx);
      this.parts.set(ctx, part);
    }
    return part;
  }
}
