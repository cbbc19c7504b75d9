import {
  chainGenesis,
  chainUpload,
  ed25519,
  EMPTY_SCAN_STATE,
  toBase64Url,
  toHex,
  type ChainedScan,
} from '@entrada/core';
import { describe, expect, it } from 'vitest';
import { payloadHashHex, unsequencedIdentity } from '../src/services/sync/integrity.ts';
import { planUpload, type PlanInput, type PreparedScan } from '../src/services/sync/sync-plan.ts';
import { answerUpload } from '../src/services/sync/sync-answer.ts';
import type { ReconciledTicket } from '../src/services/sync/reconciliation.ts';
import type { ScanIdHolder, StoredOfflineScan } from '../src/store/offline-scans.ts';
import type { LockedTicket } from '../src/store/ticket-states.ts';

// The plan of an upload, without a database (issue 11 §4): what was read in, the rows and outcomes out.

const EVENT = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
const DEVICE = 'gate-7';
const DEVICE_PK = '0190a1b2-0000-7000-8000-000000000007';
const T0 = Date.UTC(2026, 5, 1, 18, 0);
const STAFF = '0190a1b2-5555-7000-8000-000000000001';
const OTHER_STAFF = '0190a1b2-5555-7000-8000-000000000002';

function ticket(n: number): LockedTicket {
  return {
    id: `0190a1b2-1111-7000-8000-${String(n).padStart(12, '0')}`,
    eventId: EVENT,
    typeId: 'type-1',
    number: `T${n}`,
    status: 'valid',
    statusChangedAt: null,
    state: EMPTY_SCAN_STATE,
    version: 0,
  } as LockedTicket;
}

/** seq null: an unsequenced scan (a keyless device, seed 001's shape), identified by (device, qrcode, scanned_at). */
interface ScanIn {
  seq: number | null;
  code: string;
  at?: number;
  localResult?: string | null;
  scanId?: string | null;
  staffId?: string | null;
}

function chained(s: ScanIn): ChainedScan {
  return {
    seq: s.seq ?? 0,
    qrcode: s.code,
    scannedAt: s.at ?? T0 + (s.seq ?? 0) * 1000,
    direction: 'entry',
    gateId: null,
    localResult: s.localResult === undefined ? 'valid' : s.localResult,
    scanId: s.scanId ?? null,
  };
}

/** A scan as the read step prepares it; codes here are their own digests (the look-up is the read step's). */
function prepared(s: ScanIn, index: number): PreparedScan {
  const c = chained(s);
  const hashHex = payloadHashHex(EVENT, DEVICE, c);
  return {
    index,
    qrcode: s.code,
    seq: s.seq,
    identity: s.seq === null ? unsequencedIdentity(EVENT, DEVICE, s.code, c.scannedAt) : null,
    scannedAt: c.scannedAt,
    direction: 'entry',
    gateId: null,
    localResult: c.localResult ?? null,
    scanId: c.scanId ?? null,
    staffId: s.staffId ?? null,
    hashHex,
    digestHex: `digest-${s.code}`,
    codeProblem: null,
    eventCode: null,
    unparsed: false,
    flags: [],
    implausibleTime: false,
  };
}

function input(scans: ScanIn[], over: Partial<PlanInput> = {}): PlanInput {
  const tickets = new Map<string, LockedTicket>();
  for (let n = 1; n <= 9; n++) tickets.set(`digest-C${n}`, ticket(n));
  let id = 0;
  return {
    eventId: EVENT,
    device: { pk: DEVICE_PK, deviceId: DEVICE, publicKey: null },
    prepared: scans.map(prepared),
    stored: new Map(),
    ticketByDigest: tickets,
    holders: new Map(),
    knownStaff: new Set([STAFF]),
    quarantineFrom: null,
    offset: 0,
    uncertaintyMs: 2000,
    unmatched: () => ({ result: 'invalid_token', reason: 'unknown_code' }),
    newId: () => `row-${++id}`,
    ...over,
  };
}

function storedOf(p: PreparedScan, over: Partial<StoredOfflineScan> = {}): StoredOfflineScan {
  return {
    id: `stored-${p.seq}`,
    seq: p.seq!,
    ticketId: null,
    payloadHashHex: p.hashHex,
    chainLinkHex: null,
    result: 'valid',
    recordStatus: 'admitted',
    conflictReason: null,
    winnerScanId: null,
    scannedAt: p.scannedAt,
    ...over,
  };
}

describe('the sync plan (pure: no database)', () => {
  it('makes one row per new scan and groups the admissions by ticket for the replay', () => {
    const plan = planUpload(
      input([
        { seq: 1, code: 'C1' },
        { seq: 2, code: 'C2' },
        { seq: 3, code: 'C1' },
        { seq: 4, code: 'C3', localResult: 'duplicate' },
        { seq: 5, code: 'NOPE' },
      ]),
    );
    expect(plan.rows.map((r) => [r.seq, r.recordStatus, r.reason])).toEqual([
      [1, 'admitted', 'admitted_offline'],
      [2, 'admitted', 'admitted_offline'],
      [3, 'admitted', 'admitted_offline'],
      [4, 'rejected', 'refused_offline'],
      [5, 'failed', 'unknown_code'],
    ]);
    expect([...plan.candidates].map(([t, cs]) => [t, cs.map((c) => c.seq)])).toEqual([
      [ticket(1).id, [1, 3]],
      [ticket(2).id, [2]],
    ]);
    expect(plan.decided.get(4)!.outcome).toEqual({ kind: 'failed', status: 404, message: 'Ticket not found' });
    expect(plan.integrity).toBe('unsigned');
    expect(plan.logFlags).toEqual([]);
    expect(plan.flagReason).toBeNull();
  });

  it('answers a re-sent identical seq as a replay and different content as tampering, keeping the original', () => {
    const first = prepared({ seq: 1, code: 'C1' }, 0);
    const plan = planUpload(
      input(
        [
          { seq: 1, code: 'C1' },
          { seq: 2, code: 'C2' },
        ],
        { stored: new Map([[1, storedOf(first)]]) },
      ),
    );
    expect(plan.replays.get(0)).toMatchObject({ identical: true });
    expect(plan.rows.map((r) => r.seq)).toEqual([2]);
    expect(plan.tampered).toBeNull();

    const altered = planUpload(input([{ seq: 1, code: 'C9' }], { stored: new Map([[1, storedOf(first)]]) }));
    expect(altered.replays.get(0)).toMatchObject({ identical: false });
    expect(altered.rows).toEqual([]);
    expect(altered.tampered).toMatch(/seq 1 was already received with different content/);
    expect(altered.logFlags).toContain('tampering');
  });

  it('counts the first of a seq sent twice in one upload, and calls a different second one tampering', () => {
    const plan = planUpload(
      input([
        { seq: 1, code: 'C1' },
        { seq: 1, code: 'C2' },
      ]),
    );
    expect(plan.rows.map((r) => r.ticketId)).toEqual([ticket(1).id]);
    expect(plan.replays.get(1)).toMatchObject({ identical: false });
    expect(plan.tampered).toMatch(/appears twice in one upload/);
  });

  it('verifies a signed upload with one signature and stores every scan as failed when it does not verify', () => {
    const keys = ed25519.generateKeyPair((n) => new Uint8Array(n).fill(7));
    const scans: ScanIn[] = [
      { seq: 1, code: 'C1' },
      { seq: 2, code: 'C2' },
    ];
    const genesis = chainGenesis(EVENT, DEVICE);
    const { links, headMessage } = chainUpload(EVENT, DEVICE, genesis, scans.map(chained));
    const integrity = {
      prev_link: toHex(genesis),
      head_signature: toBase64Url(ed25519.sign(keys.secretKey, headMessage)),
    };
    const device = { pk: DEVICE_PK, deviceId: DEVICE, publicKey: Buffer.from(keys.publicKey) };

    const good = planUpload(input(scans, { device, integrity }));
    expect(good.integrity).toBe('chain');
    expect(good.rows.map((r) => r.chainLinkHex)).toEqual(links.map((l) => toHex(l)));
    expect(good.candidates.size).toBe(2);

    // The same signature over other content (the second scan's code changed).
    const bad = planUpload(input([scans[0]!, { seq: 2, code: 'C3' }], { device, integrity }));
    expect(bad.integrity).toBe('failed');
    expect(bad.integrityProblem).toMatch(/head signature does not verify/);
    expect(bad.rows.map((r) => r.recordStatus)).toEqual(['failed', 'failed']);
    expect(bad.decided.get(0)!.outcome).toMatchObject({ kind: 'failed', status: 422 });
    expect(bad.candidates.size).toBe(0);
    expect(bad.logFlags).toEqual(['integrity']);
  });

  it("links scan_ids: a free id is claimed, the copy of this device's online scan attaches to it, a reused id is ignored and flagged", () => {
    const free = '0190a1b2-aaaa-7000-8000-000000000001';
    const online = '0190a1b2-aaaa-7000-8000-000000000002';
    const foreign = '0190a1b2-aaaa-7000-8000-000000000003';
    const holders = new Map<string, ScanIdHolder>([
      [
        online,
        {
          id: 'online-row',
          devicePk: DEVICE_PK,
          online: true,
          seq: null,
          digestHex: 'digest-C2',
          recordStatus: 'admitted',
        },
      ],
      [
        foreign,
        {
          id: 'other-row',
          devicePk: 'another-device',
          online: false,
          seq: 4,
          digestHex: 'digest-C3',
          recordStatus: 'admitted',
        },
      ],
    ]);
    const plan = planUpload(
      input(
        [
          { seq: 1, code: 'C1', scanId: free },
          { seq: 2, code: 'C2', scanId: online },
          { seq: 3, code: 'C3', scanId: foreign },
          { seq: 4, code: 'C4', scanId: free },
        ],
        { holders },
      ),
    );
    expect(plan.rows.map((r) => [r.seq, r.clientScanId, r.flags])).toEqual([
      [1, free, []],
      [3, null, ['scan_id_reused']],
      [4, null, ['scan_id_reused']],
    ]);
    expect(plan.copies).toEqual([
      {
        scanId: 'online-row',
        seq: 2,
        payloadHashHex: prepared({ seq: 2, code: 'C2', scanId: online }, 1).hashHex,
        chainLinkHex: null,
        localResult: 'valid',
      },
    ]);
    expect(plan.decided.get(1)!.outcome).toEqual({ kind: 'received_online', verdict: 'admitted' });
    expect(plan.decided.get(2)!.notice).toBe("its scan_id belongs to another device's scan: ignored");
    expect(plan.decided.get(3)!.notice).toBe("its scan_id repeats seq 1's: ignored");
    expect(plan.logFlags).toEqual(['scan_id_reused']);
  });

  it("quarantines a revoked device's scans from its revocation on, into the review inbox and out of the replay", () => {
    const plan = planUpload(
      input(
        [
          { seq: 1, code: 'C1', at: T0 },
          { seq: 2, code: 'C2', at: T0 + 60_000 },
        ],
        { quarantineFrom: T0 + 1 },
      ),
    );
    expect(plan.rows.map((r) => r.recordStatus)).toEqual(['admitted', 'quarantined']);
    expect(plan.quarantined).toEqual([{ ticketId: ticket(2).id, scanId: plan.rows[1]!.id }]);
    expect([...plan.candidates.keys()]).toEqual([ticket(1).id]);
  });

  it('keeps the staff member of the event a scan names, and stores an unknown one as none, flagged', () => {
    const plan = planUpload(
      input([
        { seq: 1, code: 'C1', staffId: STAFF },
        { seq: 2, code: 'C2', staffId: OTHER_STAFF },
        { seq: 3, code: 'C3' },
      ]),
    );
    expect(plan.rows.map((r) => [r.staffId, r.flags])).toEqual([
      [STAFF, []],
      [null, ['unknown_staff']],
      [null, []],
    ]);
    expect(plan.logFlags).toEqual(['unknown_staff']);
    expect(plan.flagReason).toMatch(/1 scan\(s\) named a staff member who is not staff of this event/);
  });

  it('flags a skewed device clock and words the offset', () => {
    const plan = planUpload(input([{ seq: 1, code: 'C1' }], { offset: -3 * 3_600_000 }));
    expect(plan.logFlags).toEqual(['clock_skew']);
    expect(plan.flagReason).toBe('device clock off by 3 h (behind)');
  });
});

describe('the sync answer (pure)', () => {
  it('words a lost admission with its winner and counts the summary', () => {
    const plan = planUpload(
      input([
        { seq: 1, code: 'C1' },
        { seq: 2, code: 'C1' },
        { seq: 3, code: 'NOPE' },
      ]),
    );
    const [won, lost] = plan.rows;
    const r: ReconciledTicket = {
      ticketId: ticket(1).id,
      state: EMPTY_SCAN_STATE,
      stateChanged: true,
      changes: [],
      opened: [lost!.id],
      revived: [],
      admitted: [won!.id],
      conflicts: [
        {
          id: lost!.id,
          recordStatus: 'conflict',
          conflictReason: 'already_used',
          winnerScanId: won!.id,
          ambiguous: false,
        },
      ],
      winners: new Map([[won!.id, { deviceId: 'gate-2', scannedAt: won!.scannedAt, gateId: null }]]),
    };
    const ctx = {
      types: new Map([['type-1', { name: 'General' }]]),
      gates: new Map(),
      event: { timezone: 'UTC' },
    } as unknown as Parameters<typeof answerUpload>[0];
    const { results, summary } = answerUpload(
      ctx,
      input([
        { seq: 1, code: 'C1' },
        { seq: 2, code: 'C1' },
        { seq: 3, code: 'NOPE' },
      ]).prepared,
      plan,
      new Map([[r.ticketId, r]]),
      new Map([['gate-2', 'North door']]),
    );
    expect(results.map((x) => [x.seq, x.status, x.sync_status, x.verdict])).toEqual([
      [1, 200, 'synced', 'admitted'],
      [2, 409, 'conflict', 'conflict'],
      [3, 404, 'failed', 'failed'],
    ]);
    expect(results[1]!.message).toMatch(/by North door$/);
    expect(results[1]).toMatchObject({ reason: 'already_used', scanned_by: 'gate-2', type: 'General', number: 'T1' });
    // Seed 001's arithmetic: successful + duplicates + failed = total_uploaded, the conflict counted in failed.
    expect(summary).toEqual({ total_uploaded: 3, successful: 1, duplicates: 0, conflicts: 1, failed: 2 });
  });

  it('answers an unsequenced repeat as seed 001 does: 200 duplicate "Already synced by this device", with type, number and admittence', () => {
    const scans: ScanIn[] = [
      { seq: null, code: 'C1', at: T0 },
      { seq: null, code: 'C1', at: T0 },
    ];
    const plan = planUpload(input(scans));
    const ctx = {
      types: new Map([['type-1', { name: 'General', maxScans: 1 }]]),
      gates: new Map(),
      event: { timezone: 'UTC' },
    } as unknown as Parameters<typeof answerUpload>[0];
    const { results, summary } = answerUpload(ctx, input(scans).prepared, plan, new Map(), new Map());
    expect(results).toEqual([
      {
        qrcode: 'C1',
        status: 200,
        message: 'Synced successfully',
        sync_status: 'synced',
        verdict: 'admitted',
        ticket_id: ticket(1).id,
        number: 'T1',
        type: 'General',
        admittence: 1,
      },
      {
        qrcode: 'C1',
        status: 200,
        message: 'Already synced by this device',
        sync_status: 'duplicate',
        verdict: 'admitted',
        ticket_id: ticket(1).id,
        number: 'T1',
        type: 'General',
        admittence: 1,
      },
    ]);
    expect(summary).toEqual({ total_uploaded: 2, successful: 1, duplicates: 1, conflicts: 0, failed: 0 });
  });
});

describe('unsequenced scans (keyless devices, seed 001): identity (device, qrcode, scanned_at)', () => {
  it('stores a new unsequenced scan without a seq, its identity in client_scan_id, as a candidate admission', () => {
    const plan = planUpload(
      input([
        { seq: null, code: 'C1', at: T0 },
        { seq: null, code: 'NOPE', at: T0 },
      ]),
    );
    expect(plan.rows.map((r) => [r.seq, r.clientScanId, r.recordStatus])).toEqual([
      [null, unsequencedIdentity(EVENT, DEVICE, 'C1', T0), 'admitted'],
      [null, unsequencedIdentity(EVENT, DEVICE, 'NOPE', T0), 'failed'],
    ]);
    expect([...plan.candidates.values()].flat().map((c) => c.seq)).toEqual([null]);
    expect(plan.integrity).toBe('unsigned');
  });

  it('identity: another device, another millisecond or another code is another scan; the same three are the same', () => {
    const id = unsequencedIdentity(EVENT, DEVICE, 'C1', T0);
    expect(unsequencedIdentity(EVENT, DEVICE, 'C1', T0)).toBe(id);
    expect(
      new Set([
        id,
        unsequencedIdentity(EVENT, 'gate-8', 'C1', T0),
        unsequencedIdentity(EVENT, DEVICE, 'C1', T0 + 1),
        unsequencedIdentity(EVENT, DEVICE, 'C2', T0),
      ]).size,
    ).toBe(4);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('a stored identity is a duplicate: nothing stored, answered with its verdict', () => {
    const holders = new Map<string, ScanIdHolder>([
      [
        unsequencedIdentity(EVENT, DEVICE, 'C1', T0),
        {
          id: 'row-x',
          devicePk: DEVICE_PK,
          online: false,
          seq: null,
          digestHex: 'digest-C1',
          recordStatus: 'conflict',
        },
      ],
    ]);
    const plan = planUpload(input([{ seq: null, code: 'C1', at: T0 }], { holders }));
    expect(plan.rows).toEqual([]);
    expect(plan.candidates.size).toBe(0);
    expect(plan.replays.get(0)).toMatchObject({
      identical: true,
      stored: { recordStatus: 'conflict' },
      ticket: { id: ticket(1).id },
    });
    expect(plan.tampered).toBeNull();
  });

  it('the same scan twice in one upload is stored once; two tickets scanned in the same millisecond are two scans', () => {
    const plan = planUpload(
      input([
        { seq: null, code: 'C1', at: T0 },
        { seq: null, code: 'C2', at: T0 },
        { seq: null, code: 'C1', at: T0 },
      ]),
    );
    expect(plan.rows.map((r) => r.ticketId)).toEqual([ticket(1).id, ticket(2).id]);
    expect(plan.replays.get(2)).toMatchObject({ identical: true, firstIndex: 0 });
    // Control: the same code a millisecond later is another scan (a second admission attempt, for the replay to decide).
    const later = planUpload(
      input([
        { seq: null, code: 'C1', at: T0 },
        { seq: null, code: 'C1', at: T0 + 1 },
      ]),
    );
    expect(later.rows).toHaveLength(2);
    expect(later.candidates.get(ticket(1).id)).toHaveLength(2);
  });

  it('one ticket scanned by this device in one millisecond is one scan, whatever the path that stored it (seed 000 or 001)', () => {
    const unsequencedByTicket = new Map([[`${ticket(1).id}|${T0}`, { recordStatus: 'admitted' }]]);
    const plan = planUpload(
      input(
        [
          { seq: null, code: 'C1', at: T0 },
          { seq: null, code: 'C1', at: T0 + 5 },
        ],
        { unsequencedByTicket },
      ),
    );
    expect(plan.replays.get(0)).toMatchObject({ identical: true, stored: { recordStatus: 'admitted' } });
    expect(plan.rows.map((r) => r.scannedAt)).toEqual([T0 + 5]);
  });

  it('does not depend on the order of the upload: the same scans in any order give the same rows and candidates', () => {
    const scans: ScanIn[] = [
      { seq: null, code: 'C1', at: T0 + 2 },
      { seq: null, code: 'C1', at: T0 },
      { seq: null, code: 'C2', at: T0 },
      { seq: null, code: 'C1', at: T0 },
    ];
    const key = (p: ReturnType<typeof planUpload>) =>
      p.rows.map((r) => `${r.clientScanId}|${r.ticketId}|${r.scannedAt}|${r.recordStatus}`).sort();
    const forward = planUpload(input(scans));
    const backward = planUpload(input([...scans].reverse()));
    expect(key(backward)).toEqual(key(forward));
    expect(forward.rows).toHaveLength(3);
    expect(backward.replays.size).toBe(1);
  });

  it('mixes with sequenced scans of a keyless device: seqs and marks as before', () => {
    const plan = planUpload(
      input([
        { seq: 1, code: 'C1' },
        { seq: null, code: 'C2', at: T0 },
        { seq: 2, code: 'C3' },
      ]),
    );
    expect(plan.rows.map((r) => [r.seq, r.clientScanId !== null])).toEqual([
      [1, false],
      [null, true],
      [2, false],
    ]);
  });

  it('a device registered with a key cannot send a scan without a seq: the upload fails integrity (control: with seqs it verifies)', () => {
    const keys = ed25519.generateKeyPair((n) => new Uint8Array(n).fill(9));
    const device = { pk: DEVICE_PK, deviceId: DEVICE, publicKey: Buffer.from(keys.publicKey) };
    const plan = planUpload(input([{ seq: null, code: 'C1', at: T0 }], { device }));
    expect(plan.integrity).toBe('failed');
    expect(plan.integrityProblem).toMatch(/must send a seq/);
    expect(plan.rows.map((r) => r.recordStatus)).toEqual(['failed']);
    expect(plan.candidates.size).toBe(0);
    // Control: the same device's sequenced, signed scan verifies.
    const genesis = chainGenesis(EVENT, DEVICE);
    const scan: ScanIn = { seq: 1, code: 'C1' };
    const { headMessage } = chainUpload(EVENT, DEVICE, genesis, [chained(scan)]);
    const integrity = {
      prev_link: toHex(genesis),
      head_signature: toBase64Url(ed25519.sign(keys.secretKey, headMessage)),
    };
    expect(planUpload(input([scan], { device, integrity })).integrity).toBe('chain');
  });
});
