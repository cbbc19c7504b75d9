import type { ClientStore } from './storage/types.ts';

/** Seed 004's `archiveOldFailedEvents(30)`: answered failed and conflicting scans leave the device after 30 days. */
export const ARCHIVE_ANSWERED_AFTER_MS = 30 * 86_400_000;

/** How many scans the storage limits removed from this event's log, so the device can still account for every seq. */
export interface ArchivedCount {
  count: number;
  lastAt: number;
}
export const META_ARCHIVED = (eventId: string): string => `archived:${eventId}`;

/**
 * Both storage limits, run after a successful sync: answered failed and
 * conflicting scans older than `archiveAfterMs` are deleted from the live
 * log (the server holds every one of them, with its verdict, and the
 * organisers review conflicts there; `entrada devices export-log` gives them
 * back), with a count kept; then acknowledged scans beyond `keep` are pruned
 * by count. Pending scans are never touched by either.
 */
export async function enforceStorageLimits(
  store: ClientStore,
  eventId: string,
  opts: { now: number; keep: number; archiveAfterMs?: number },
): Promise<number> {
  const archived = await store.archiveAnswered(eventId, opts.now - (opts.archiveAfterMs ?? ARCHIVE_ANSWERED_AFTER_MS));
  if (archived > 0) {
    const before = (await store.getMeta<ArchivedCount>(META_ARCHIVED(eventId))) ?? { count: 0, lastAt: 0 };
    await store.setMeta(META_ARCHIVED(eventId), {
      count: before.count + archived,
      lastAt: opts.now,
    } satisfies ArchivedCount);
  }
  const counts = await store.counts(eventId);
  // 10% slack so the prune runs now and then, not after every sync.
  if (counts.synced > opts.keep * 1.1) await store.pruneSynced(eventId, opts.keep);
  return archived;
}
