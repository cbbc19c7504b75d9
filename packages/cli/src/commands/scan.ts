import type { Direction } from '@entrada/core';
import type { ScanVerdict } from '../api-types.ts';
import { CliError } from '../errors.ts';
import { HttpClient, requireUuid, type Connection } from '../http-client.ts';
import type { Output } from '../output.ts';
import { renderVerdict } from '../verdict-banner.ts';

/** Exit status of a scan that was answered but not admitted, distinct from 1 (the command failed). */
export const EXIT_NOT_ADMITTED = 2;

export interface ScanOptions {
  /** A device token, not an admin token: scans are recorded against a device. */
  connection: Connection;
  code: string;
  eventId?: string;
  gateId?: string;
  sessionId?: string;
  direction?: Direction;
}

export async function scanCode(opts: ScanOptions, output: Output): Promise<{ verdict: ScanVerdict; exitCode: number }> {
  const body = scanBody(opts);
  const client = new HttpClient(opts.connection, 'device');
  const verdict = await client.post<ScanVerdict>('/api/v1/scanning/scan', body);
  for (const line of renderVerdict(verdict, { color: output.color, columns: output.columns })) output.out(line);
  return { verdict, exitCode: verdict.result === 'valid' ? 0 : EXIT_NOT_ADMITTED };
}

function scanBody(opts: ScanOptions): Record<string, string> {
  if (opts.sessionId) {
    if (opts.eventId || opts.gateId)
      throw new CliError('use --session alone, or --event with --gate (a session already names its event and gate)');
    return {
      code: opts.code,
      session_id: requireUuid(opts.sessionId, '--session', 'a scan session'),
      ...(opts.direction ? { direction: opts.direction } : {}),
    };
  }
  if (!opts.eventId || !opts.gateId)
    throw new CliError('say where the scan happens: --event EVENT_ID --gate GATE_ID, or --session SESSION_ID');
  return {
    code: opts.code,
    event_id: requireUuid(opts.eventId, '--event', 'an event'),
    gate_id: requireUuid(opts.gateId, '--gate', 'a gate'),
    direction: opts.direction ?? 'entry',
  };
}
