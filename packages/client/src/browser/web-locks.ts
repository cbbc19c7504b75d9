import { InProcessLock, type SyncLock } from '../sync-loop.ts';

interface LockManagerLike {
  request<T>(name: string, options: { ifAvailable: boolean }, callback: (lock: unknown) => Promise<T>): Promise<T>;
}

/**
 * One sync at a time across every tab of this origin (Web Locks API). Two tabs
 * of the scanner uploading the same outbox at once would only waste requests
 * (the server is idempotent), but their acknowledgements could interleave with
 * a download, so they take turns. Falls back to an in-process lock where the API
 * is missing (old browsers, Node).
 */
export function webLocksSyncLock(name: string, locks: LockManagerLike | undefined = navigatorLocks()): SyncLock {
  if (!locks) return new InProcessLock();
  return {
    async tryRun<T>(fn: () => Promise<T>) {
      return locks.request(name, { ifAvailable: true }, async (lock) => {
        if (lock === null) return { ran: false as const };
        return { ran: true as const, value: await fn() };
      });
    },
  };
}

function navigatorLocks(): LockManagerLike | undefined {
  return (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
}
