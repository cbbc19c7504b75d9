import 'fake-indexeddb/auto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
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
afterAll(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });
storeContract('NodeFileStore', {
  async fresh() {
    const dir = await mkdtemp(join(tmpdir(), 'entrada-store-'));
    dirs.push(dir);
    return { open: () => NodeFileStore.open(dir) };
  },
});
