import { describe, expect, it } from 'vitest';
import { webLocksSyncLock } from '../src/browser/web-locks.ts';
import { InProcessLock } from '../src/sync-loop.ts';

/** The Web Locks API's `ifAvailable` behaviour, shared by every "tab" holding a reference (as the browser's lock manager is). */
function fakeLockManager() {
  const held = new Set<string>();
  return {
    async request<T>(
      name: string,
      options: { ifAvailable: boolean },
      callback: (lock: unknown) => Promise<T>,
    ): Promise<T> {
      if (held.has(name)) {
        if (options.ifAvailable) return callback(null);
        throw new Error('the fake only supports ifAvailable');
      }
      held.add(name);
      try {
        return await callback({ name });
      } finally {
        held.delete(name);
      }
    },
  };
}

describe('Web Locks sync lock', () => {
  it('lets one tab sync and tells the other it did not run, per event', async () => {
    const manager = fakeLockManager();
    const tabA = webLocksSyncLock('entrada-sync:e1', manager);
    const tabB = webLocksSyncLock('entrada-sync:e1', manager);
    const otherEvent = webLocksSyncLock('entrada-sync:e2', manager);
    let release!: () => void;
    const running = tabA.tryRun(
      () =>
        new Promise<string>((r) => {
          release = () => r('a done');
        }),
    );
    expect(await tabB.tryRun(async () => 'b')).toEqual({ ran: false });
    expect(await otherEvent.tryRun(async () => 'e2')).toEqual({ ran: true, value: 'e2' });
    release();
    expect(await running).toEqual({ ran: true, value: 'a done' });
    expect(await tabB.tryRun(async () => 'b')).toEqual({ ran: true, value: 'b' });
  });

  it('falls back to an in-process lock where the API is missing', () => {
    expect(webLocksSyncLock('x', undefined)).toBeInstanceOf(InProcessLock);
  });
});
