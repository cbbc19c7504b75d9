import { describe, expect, it } from 'vitest';
import type { FetchLike } from '@entrada/client';
import { boundedManifestFetch } from '../src/simulate/bounded-fetch.ts';

/** A fetch whose bodies are handed out by the test, counting the manifest bodies held at once. */
function controlledFetch(): {
  fetch: FetchLike;
  finish: () => void;
  held: () => number;
  peak: () => number;
  started: () => number;
} {
  let held = 0;
  let peak = 0;
  let started = 0;
  const pending: Array<() => void> = [];
  const fetch: FetchLike = async (url) => {
    started++;
    if (!url.includes('/manifest/')) return { status: 200, headers: { get: () => null }, text: async () => '{}' };
    held++;
    peak = Math.max(peak, held);
    await new Promise<void>((resolve) => pending.push(resolve));
    return {
      status: 200,
      headers: { get: () => null },
      text: async () => {
        held--;
        return '{"manifest":{}}';
      },
    };
  };
  return { fetch, finish: () => pending.shift()?.(), held: () => held, peak: () => peak, started: () => started };
}

const init = (method: string) => ({ method, headers: {}, signal: new AbortController().signal });
const tick = () => new Promise((r) => setImmediate(r));

describe("simulated devices' fetch", () => {
  it('holds at most the limit of manifest bodies at once, and lets other requests through', async () => {
    const inner = controlledFetch();
    const fetch = boundedManifestFetch(inner.fetch, 2);
    const manifests = Array.from({ length: 5 }, (_, i) =>
      fetch(`http://x/api/v1/offline/manifest/e?device_id=d${i}`, init('GET')).then((r) => r.text()),
    );
    const sync = await fetch('http://x/api/v1/offline/sync', init('POST'));
    expect(await sync.text()).toBe('{}');
    await tick();
    expect(inner.held()).toBe(2);
    for (let i = 0; i < 5; i++) {
      inner.finish();
      await tick();
      await tick();
    }
    expect(await Promise.all(manifests)).toHaveLength(5);
    expect(inner.peak()).toBe(2);
    expect(inner.started()).toBe(6);
  });

  it('gives the slot back when a download fails', async () => {
    let calls = 0;
    const failing: FetchLike = async () => {
      calls++;
      throw new Error('network down');
    };
    const fetch = boundedManifestFetch(failing, 1);
    await expect(fetch('http://x/api/v1/offline/manifest/e', init('GET'))).rejects.toThrow('network down');
    await expect(fetch('http://x/api/v1/offline/manifest/e', init('GET'))).rejects.toThrow('network down');
    expect(calls).toBe(2);
  });
});
