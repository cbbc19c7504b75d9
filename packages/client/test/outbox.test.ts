import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chainGenesis, chainUpload, toHex } from '@entrada/core';
import { NodeFileStore } from '../src/node.ts';
import { contiguousRun, recordScan } from '../src/outbox.ts';
import { MemoryStore } from '../src/storage/memory-store.ts';

const EVENT = '11111111-1111-4111-8111-111111111111';

describe('outbox chain', () => {
  it('stores the same links core computes for an upload from genesis (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            code: fc.string({ minLength: 1, maxLength: 20 }),
            dt: fc.nat({ max: 10_000 }),
            exit: fc.boolean(),
          }),
          { minLength: 1, maxLength: 15 },
        ),
        async (inputs) => {
          const store = new MemoryStore();
          let at = 1_700_000_000_000;
          for (const i of inputs) {
            at += i.dt;
            await recordScan(store, EVENT, 'dev-1', {
              qrcode: i.code,
              scannedAt: at,
              direction: i.exit ? 'exit' : 'entry',
              gateId: null,
              localResult: 'valid',
              localReason: 'admitted',
              ticketId: null,
              scanId: null,
            });
          }
          const log = await store.all(EVENT);
          const { links } = chainUpload(EVENT, 'dev-1', chainGenesis(EVENT, 'dev-1'), log);
          expect(log.map((s) => s.link)).toEqual(links.map(toHex));
          expect(log[0]!.prevLink).toBe(toHex(chainGenesis(EVENT, 'dev-1')));
          expect(contiguousRun(log)).toHaveLength(log.length);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('NodeFileStore drops a record torn by kill -9 and continues the seqs cleanly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'entrada-torn-'));
    try {
      const a = await NodeFileStore.open(dir);
      for (let i = 0; i < 3; i++)
        await recordScan(a, EVENT, 'dev-1', {
          qrcode: `C${i}`,
          scannedAt: i,
          direction: 'entry',
          gateId: null,
          localResult: 'valid',
          localReason: 'admitted',
          ticketId: null,
          scanId: null,
        });
      // The process died half-way through writing seq 4's line.
      await appendFile(join(dir, `outbox-${EVENT}.jsonl`), '{"op":"scan","scan":{"seq":4,"qr');
      const b = await NodeFileStore.open(dir);
      expect((await b.counts(EVENT)).lastSeq).toBe(3);
      const next = await recordScan(b, EVENT, 'dev-1', {
        qrcode: 'C3',
        scannedAt: 3,
        direction: 'entry',
        gateId: null,
        localResult: 'valid',
        localReason: 'admitted',
        ticketId: null,
        scanId: null,
      });
      expect(next.seq).toBe(4);
      await b.close();
      const c = await NodeFileStore.open(dir);
      expect((await c.all(EVENT)).map((s) => s.seq)).toEqual([1, 2, 3, 4]);
      await c.close();
      await a.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
