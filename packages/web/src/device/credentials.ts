import { ed25519, fromBase64Url, toBase64Url } from '@entrada/core';
import type { ClientStore, HeadSigner } from '@entrada/client';
import { postJson } from './api.ts';

/** Everything that makes this browser a registered scanner of one event. Kept in IndexedDB next to the outbox. */
export interface DeviceCredentials {
  deviceId: string;
  token: string;
  /** Ed25519 key pair made on this device; the server only ever sees the public half. base64url. */
  secretKey: string;
  publicKey: string;
  name: string;
  event: { id: string; name: string; timezone: string; starts_at: string | null; ends_at: string | null };
  gates: Array<{ id: string; name: string }>;
  /** The gate the organiser preselected on the pairing code, if any. */
  gateId: string | null;
  pairedAt: number;
}

interface PairResponse {
  device_id: string;
  token: string;
  event: DeviceCredentials['event'];
  gate_id: string | null;
  gates: Array<{ id: string; name: string }>;
}

const KEY = 'device';

export function loadCredentials(store: ClientStore): Promise<DeviceCredentials | undefined> {
  return store.getMeta<DeviceCredentials>(KEY);
}

/** Redeems a pairing code: the key pair is generated here and only its public half leaves the device. */
export async function pairDevice(store: ClientStore, code: string, name: string): Promise<DeviceCredentials> {
  const keys = ed25519.generateKeyPair((n) => crypto.getRandomValues(new Uint8Array(n)));
  const publicKey = toBase64Url(keys.publicKey);
  const r = await postJson<PairResponse>('/api/v1/devices/pair', {
    code,
    name,
    public_key: publicKey,
    platform: navigator.userAgent.slice(0, 64),
  });
  const creds: DeviceCredentials = {
    deviceId: r.device_id,
    token: r.token,
    secretKey: toBase64Url(keys.secretKey),
    publicKey,
    name,
    event: r.event,
    gates: r.gates.map((g) => ({ id: g.id, name: g.name })),
    gateId: r.gate_id,
    pairedAt: Date.now(),
  };
  await store.setMeta(KEY, creds);
  return creds;
}

export async function forgetDevice(store: ClientStore): Promise<void> {
  await store.setMeta(KEY, null);
}

export function signerOf(creds: DeviceCredentials): { publicKey: Uint8Array; sign: HeadSigner } {
  const secret = fromBase64Url(creds.secretKey);
  return { publicKey: fromBase64Url(creds.publicKey), sign: (m) => ed25519.sign(secret, m) };
}
