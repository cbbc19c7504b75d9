import 'fake-indexeddb/auto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dexie } from 'dexie';
import { afterAll, describe, expect, it } from 'vitest';
import type { ManifestHeader } from '../src/manifest-types.ts';
import { NodeFileStore } from '../src/node.ts';
import { DexieStore } from '../src/storage/dexie-store.ts';
import { MemoryStore, memoryBacking } from '../src/storage/memory-store.ts';
import { storeContract } from './store-contract.ts';

storeContract('MemoryStore', {
  async fresh() {
    const backing = memoryBacking();
    return { open: async () => new MemoryStore(backing) };
  },
});

let dbCounter = 0;
// fake-indexeddb in Node; the same suite in real Chromium is left for the PWA's browser test run.
storeContract('DexieStore (fake-indexeddb)', {
  async fresh() {
    const name = `entrada-test-${++dbCounter}`;
    return { open: () => DexieStore.open(name) };
  },
});

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
storeContract('NodeFileStore', {
  async fresh() {
    const dir = await mkdtemp(join(tmpdir(), 'entrada-store-'));
    dirs.push(dir);
    return { open: () => NodeFileStore.open(dir) };
  },
});

describe('DexieStore schema upgrade', () => {
  it('moves a version-1 database (one record per ticket) into ticket buckets, outbox untouched', async () => {
    const name = 'entrada-upgrade-test';
    const v1 = new Dexie(name);
    v1.version(1).stores({
      meta: 'key',
      manifests: 'eventId',
      tickets: '[eventId+ticket_id]',
      outbox: '[eventId+seq], [eventId+pend+seq], [eventId+ticketId]',
    });
    await v1.open();
    const header = { event_id: 'e1', cursor: 'c1' } as unknown as ManifestHeader;
    await v1.table('manifests').put({ eventId: 'e1', header, refreshedAt: 5, feedCursor: 'f1' });
    await v1.table('tickets').bulkPut(
      Array.from({ length: 600 }, (_, i) => ({
        eventId: 'e1',
        ticket_id: `t${i}`,
        serial: i,
        current_scans: 0,
        inside: false,
        status: 'valid',
      })),
    );
    await v1.table('outbox').put({
      eventId: 'e1',
      seq: 1,
      pend: 1,
      prevLink: '00',
      link: '11',
      scanId: null,
      qrcode: 'X',
      scannedAt: 1,
      direction: 'entry',
      gateId: null,
      localResult: null,
      localReason: null,
      ticketId: null,
      synced: false,
    });
    v1.close();

    const store = await DexieStore.open(name);
    const m = await store.loadManifest('e1');
    expect(m?.tickets.size).toBe(600);
    expect(m?.tickets.get('t599')).toMatchObject({ serial: 599, status: 'valid' });
    expect(m?.feedCursor).toBe('f1');
    expect((await store.pending('e1', 10)).map((s) => s.seq)).toEqual([1]);
    await store.applyManifestDelta(
      'e1',
      [
        { ticket_id: 't7', status: 'cancelled' },
        { ticket_id: 'new', serial: 900 },
      ],
      { refreshedAt: 6 },
    );
    const after = await store.loadManifest('e1');
    expect(after?.tickets.size).toBe(601);
    expect(after?.tickets.get('t7')?.status).toBe('cancelled');
    await store.close();
  });
});
