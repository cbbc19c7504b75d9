import { createHash } from 'node:crypto';
import { MAX_SYNC_SCANS, type DeviceLogImport, type DeviceLogImportResponse, type SyncResultItem } from '@entrada/core';
import type { Database } from '../../db/database.ts';
import { DomainError, notFound } from '../errors.ts';
import { getDevice } from '../../store/devices.ts';
import { payloadHashHex, verifyChain } from './integrity.ts';
import type { SyncRequest, SyncService } from './sync-service.ts';

/**
 * Imports the exported scan log of a device that never reconnected (lost
 * network, broken phone, revoked device). The whole log is verified once —
 * its hash chain from seq 1 and the device's signature over its head — then
 * fed through the sync engine in chunks, so it is stored, deduplicated and
 * reconciled exactly like uploads: importing twice changes nothing, and a
 * revoked device's scans after its revocation are quarantined for review.
 */
export class ImportService {
  constructor(
    private readonly db: Database,
    private readonly sync: SyncService,
  ) {}

  async importLog(organisationId: string, doc: DeviceLogImport): Promise<DeviceLogImportResponse> {
    const device = await getDevice(this.db, organisationId, doc.device_id);
    if (!device) throw notFound('Device');
    const fileKey = doc.public_key ? Buffer.from(doc.public_key, 'base64url') : null;
    if (device.publicKey && fileKey && !fileKey.equals(device.publicKey)) {
      throw new DomainError('INVALID_BODY', 'public_key of the file is not the key registered for this device');
    }
    const scans = [...doc.scans].sort((a, b) => a.seq - b.seq);
    for (let i = 1; i < scans.length; i++) {
      if (scans[i]!.seq === scans[i - 1]!.seq)
        throw new DomainError('INVALID_BODY', `/scans: seq ${scans[i]!.seq} appears twice`);
    }

    let verifiedLinks: Map<number, string> | undefined;
    let integrityFailure: string | undefined;
    if (device.publicKey && scans.length > 0) {
      const hashes = scans.map((s) =>
        payloadHashHex(doc.event_id, device.deviceId, {
          seq: s.seq,
          qrcode: s.qrcode,
          scannedAt: s.scanned_at,
          direction: s.direction ?? 'entry',
          gateId: s.gate_id ?? null,
          localResult: s.local_result === undefined ? 'valid' : s.local_result,
          scanId: s.scan_id ?? null,
        }),
      );
      const check =
        scans[0]!.seq !== 1
          ? { ok: false as const, reason: 'an exported log starts at seq 1' }
          : verifyChain({
              eventId: doc.event_id,
              deviceId: device.deviceId,
              publicKey: device.publicKey,
              hashes,
              seqs: scans.map((s) => s.seq),
              prevLinkHex: doc.integrity?.prev_link,
              headSignature: doc.integrity?.head_signature,
              storedBefore: null,
              storedAfter: null,
            });
      if (check.ok) verifiedLinks = new Map(scans.map((s, i) => [s.seq, check.links[i]!]));
      else integrityFailure = check.reason;
    }

    const token = `import-${createHash('sha256')
      .update(JSON.stringify([doc.device_id, doc.exported_at, scans.length]))
      .digest('hex')
      .slice(0, 16)}`;
    const chunks: SyncRequest[] = [];
    for (let from = 0; from < scans.length || from === 0; from += MAX_SYNC_SCANS) {
      const chunk = scans.slice(from, from + MAX_SYNC_SCANS).map((s) => ({
        qrcode: s.qrcode,
        scanned_at: s.scanned_at,
        seq: s.seq,
        direction: s.direction,
        gate_id: s.gate_id,
        local_result: s.local_result,
        ...(s.scan_id ? { scan_id: s.scan_id } : {}),
        ...(s.staff_id ? { staff_id: s.staff_id } : {}),
      }));
      chunks.push({
        device,
        verifiedLinks,
        integrityFailure,
        // No device_time: exported_at is the device's clock when it exported, at a time the server does not know (a log
        // exported 25 days ago is not a clock 25 days behind). Scan times far outside the event are flagged all the same.
        body: { event_id: doc.event_id, device_id: device.deviceId, session_token: token, scans: chunk },
      });
      if (scans.length === 0) break;
    }
    // All chunks in one transaction: the whole file is stored, or nothing of it (it can then be imported again).
    const answers = await this.sync.uploadAll(chunks);
    const summary = { total_uploaded: 0, successful: 0, duplicates: 0, conflicts: 0, failed: 0 };
    const notable: SyncResultItem[] = [];
    for (const a of answers) {
      for (const k of Object.keys(summary) as Array<keyof typeof summary>) summary[k] += a.summary[k];
      for (const r of a.results) if (r.sync_status === 'conflict' || r.sync_status === 'failed') notable.push(r);
    }
    const last = answers.at(-1) ?? null;
    return {
      status: 200,
      message: 'Import completed',
      event_id: doc.event_id,
      device_id: device.deviceId,
      device_status: device.status,
      integrity: integrityFailure ? 'failed' : verifiedLinks ? 'chain' : 'unsigned',
      ...(integrityFailure ? { integrity_problem: integrityFailure } : {}),
      summary,
      acked_through: last?.acked_through ?? 0,
      last_seq: last?.last_seq ?? 0,
      missing: last?.missing ?? [],
      // Only what needs attention: every scan is stored either way.
      conflicts_and_failures: notable,
    };
  }
}
