import type { FetchLike } from '@entrada/client';

/**
 * A fetch for the simulated devices that lets at most `limit` manifest
 * downloads hold their body at once, across all devices of the one CLI
 * process. After a reconnect the server answers every device's manifest from
 * its cache within a second, and 50 manifests of 100,000 tickets (~26 MB of
 * JSON each, and their parsed tickets) held together took the process past
 * 4 GiB. A slot is taken before the request and given back once its body has
 * been read (the engine parses it right after, before the next body can
 * arrive). A real device downloads only its own; other requests pass freely.
 */
export function boundedManifestFetch(inner: FetchLike, limit: number): FetchLike {
  let active = 0;
  const waiting: Array<() => void> = [];
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  const acquire = (): Promise<void> => {
    if (active < limit) {
      active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  return async (url, init) => {
    if (init.method !== 'GET' || !url.includes('/api/v1/offline/manifest/')) return inner(url, init);
    await acquire();
    let res: Awaited<ReturnType<FetchLike>>;
    try {
      res = await inner(url, init);
    } catch (err) {
      release();
      throw err;
    }
    let released = false;
    const once = (): void => {
      if (!released) {
        released = true;
        release();
      }
    };
    return {
      status: res.status,
      headers: res.headers,
      text: () => res.text().finally(once),
    };
  };
}
