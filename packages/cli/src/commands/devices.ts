import { PAIRING_TTL_DEFAULT_S, PAIRING_TTL_MAX_S, PAIRING_TTL_MIN_S } from '@entrada/core';
import type { DeviceList, DeviceView, PairingCode, RegisteredDevice } from '../api-types.ts';
import { CliError } from '../errors.ts';
import { table } from '../format.ts';
import { HttpClient, requireUuid, type Connection } from '../http-client.ts';
import type { Output } from '../output.ts';
import { printQr } from '../qr.ts';

export interface RegisterDeviceOptions {
  connection: Connection;
  name: string;
  deviceId?: string;
  type?: 'scanner' | 'mobile';
  publicKey?: string;
}

export async function registerDevice(opts: RegisterDeviceOptions, output: Output): Promise<RegisteredDevice> {
  const client = new HttpClient(opts.connection, 'admin');
  const device = await client.post<RegisteredDevice>('/api/v1/devices', {
    name: opts.name,
    ...(opts.deviceId ? { device_id: opts.deviceId } : {}),
    ...(opts.type ? { device_type: opts.type } : {}),
    ...(opts.publicKey ? { public_key: opts.publicKey } : {}),
  });
  output.out(`Registered device "${device.name}" (${device.device_type}).`);
  output.out(`  device_id  ${device.device_id}`);
  output.out(`  token      ${device.token}`);
  output.out('');
  output.out('The token is shown once — store it now. Scanners send it as their bearer token, e.g.:');
  output.out(`  ENTRADA_DEVICE_TOKEN=${device.token} entrada scan CODE --event EVENT_ID --gate GATE_ID`);
  return device;
}

export async function listDevices(opts: { connection: Connection }, output: Output): Promise<DeviceView[]> {
  const client = new HttpClient(opts.connection, 'admin');
  const { devices } = await client.get<DeviceList>('/api/v1/devices');
  if (devices.length === 0) {
    output.out('No devices yet. Register one with: entrada devices register --name "Gate 1"');
    return devices;
  }
  const rows = devices.map((d) => [
    d.device_id,
    d.name,
    d.device_type,
    d.status,
    d.has_public_key ? 'yes' : 'no',
    d.last_seen_at ?? 'never',
    d.created_at,
  ]);
  for (const line of table(['DEVICE ID', 'NAME', 'TYPE', 'STATUS', 'KEY', 'LAST SEEN', 'CREATED'], rows))
    output.out(line);
  return devices;
}

/** `900`, `90s`, `15m`, `2h`, `1d` → seconds; null when it is none of these. */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d{1,6})\s*(s|m|min|h|d)?\s*$/i.exec(text);
  if (!m) return null;
  const unit = (m[2] ?? 's').toLowerCase();
  return Number(m[1]) * ({ s: 1, m: 60, min: 60, h: 3600, d: 86_400 } as Record<string, number>)[unit]!;
}

function describeTtl(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

export interface PairDeviceOptions {
  connection: Connection;
  eventId: string;
  gateId?: string;
  /** Duration text (`15m`) or seconds. */
  ttl?: string;
  name?: string;
}

/** A single-use pairing code for a new scanner: the code, its pair URL and (in a terminal) its QR. */
export async function pairDevice(opts: PairDeviceOptions, output: Output): Promise<PairingCode> {
  const eventId = requireUuid(opts.eventId, '--event', 'an event');
  const gateId = opts.gateId === undefined ? undefined : requireUuid(opts.gateId, '--gate', 'a gate');
  const ttlS = opts.ttl === undefined ? PAIRING_TTL_DEFAULT_S : parseDuration(opts.ttl);
  if (ttlS === null || ttlS < PAIRING_TTL_MIN_S || ttlS > PAIRING_TTL_MAX_S) {
    throw new CliError(`--ttl must be a duration from 1m to 24h (e.g. 90s, 15m, 2h), got "${opts.ttl}"`);
  }
  const client = new HttpClient(opts.connection, 'admin');
  const made = await client.post<PairingCode>('/api/v1/devices/pairing-codes', {
    event_id: eventId,
    ttl_s: ttlS,
    ...(gateId ? { gate_id: gateId } : {}),
    ...(opts.name ? { name: opts.name } : {}),
  });
  output.out(`Pairing code  ${made.code}`);
  output.out(`Pair URL      ${made.pair_url}`);
  output.out(`Valid until   ${made.expires_at} (${describeTtl(ttlS)}), for one device`);
  output.out('');
  if (await printQr(made.pair_url, output)) output.out('');
  output.out('Open the URL on the scanner (or scan the QR with its camera), or type the code into its pairing screen.');
  return made;
}
