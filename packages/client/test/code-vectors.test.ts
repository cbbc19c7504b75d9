/**
 * One code classifier: the golden code-classification vectors through the
 * scanner's ManifestIndex, built from a real manifest downloaded from a test
 * server whose events have the vectors' refs and keys (server/test/code-vector-world.ts).
 * The server's two HTTP paths run the same vectors (server/test/code-vectors.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CodeVectorExpect } from '@entrada/core';
import { pgliteBackend, type TestDatabase } from '../../server/test/harness.ts';
import { codeVectorWorld, type CodeVectorWorld } from '../../server/test/code-vector-world.ts';
import { ManifestIndex } from '../src/manifest.ts';
import { splitManifest, type ManifestDocument } from '../src/manifest-types.ts';

describe("golden code-classification vectors through the scanner's manifest", () => {
  let tdb: TestDatabase;
  let w: CodeVectorWorld;
  let index: ManifestIndex;

  beforeAll(async () => {
    tdb = await pgliteBackend.open();
    w = await codeVectorWorld(tdb.db);
    const r = await w.device.client.get<{ manifest: ManifestDocument }>(
      `/api/v1/offline/manifest/${w.eventId}?device_id=${w.device.deviceId}`,
    );
    expect(r.status).toBe(200);
    const { header, tickets } = splitManifest(r.body.manifest);
    index = new ManifestIndex(header, new Map(tickets.map((t) => [t.ticket_id, t])), 0);
  });
  afterAll(async () => {
    await w?.server.close();
    await tdb?.drop();
  });

  it("gives each vector's verdict", () => {
    const got = w.v.cases.map((c) => {
      const found = index.lookup(c.code);
      const answer: CodeVectorExpect =
        found.kind === 'ticket' ? { ticket: found.ticket.serial } : { result: found.result, reason: found.reason };
      return { name: c.name, ...answer };
    });
    expect(got).toEqual(w.v.cases.map((c) => ({ name: c.name, ...c.expect })));
  });

  it("a manifest from a server without other_events refuses every other event's code, never wrong_event", () => {
    const { other_events: _others, ...older } = index.header;
    const old = new ManifestIndex(older, index.tickets, 0);
    for (const c of w.v.cases) expect(old.lookup(c.code)).not.toMatchObject({ result: 'wrong_event' });
  });
});
