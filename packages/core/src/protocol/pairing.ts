/**
 * Pairing a scanner with a short code, and staff login at the gate.
 *
 * An organiser makes a pairing code (shown as text and as a QR of a pair
 * URL); the scanner redeems it once, with no other credential, and receives
 * its device token. Staff then log in on the paired device with a username
 * and PIN per event.
 */
import { Type, type Static } from 'typebox';
import { Nullable, Timestamp } from './common.ts';
import { DeviceView } from './setup-responses.ts';
import { Count, Text, Uuid } from './values.ts';

/** Error codes of these endpoints, with their HTTP status (in addition to API_ERRORS). Never reuse a retired code. */
export const PAIRING_ERRORS = {
  /** No such pairing code (or not a well-formed one). */
  PAIRING_CODE_INVALID: 404,
  /** The code existed but its time ran out. */
  PAIRING_CODE_EXPIRED: 410,
  /** The code has already paired a device. */
  PAIRING_CODE_USED: 410,
  /** Unknown username, wrong PIN or inactive account: one answer for all three. */
  INVALID_LOGIN: 401,
} as const;
export type PairingErrorCode = keyof typeof PAIRING_ERRORS;

// ---------------------------------------------------------------------------
// Pairing codes: 8 characters of Crockford base32 (40 bits), shown as XXXX-XXXX.

/** Crockford's alphabet: digits and letters without I, L, O and U. */
export const PAIRING_CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const PAIRING_CODE_LENGTH = 8;
/** Random bytes a code is made of (8 × 5 bits). */
export const PAIRING_CODE_BYTES = 5;

/** Formats 5 random bytes as a display code `XXXX-XXXX`. Randomness is the caller's. */
export function formatPairingCode(random: Uint8Array): string {
  if (random.length !== PAIRING_CODE_BYTES)
    throw new RangeError(`a pairing code is made of ${PAIRING_CODE_BYTES} random bytes`);
  let bits = 0n;
  for (const b of random) bits = (bits << 8n) | BigInt(b);
  let out = '';
  for (let i = PAIRING_CODE_LENGTH - 1; i >= 0; i--)
    out += PAIRING_CODE_ALPHABET[Number((bits >> BigInt(i * 5)) & 31n)];
  return `${out.slice(0, 4)}-${out.slice(4)}`;
}

/**
 * What a person typed or a camera read, as the 8 canonical characters, or
 * null when it cannot be a code: case-insensitive, hyphens and spaces
 * ignored, Crockford's confusables read as digits (O → 0, I and L → 1).
 */
export function normalisePairingCode(input: string): string | null {
  const text = input
    .replace(/[\s-]+/g, '')
    .toUpperCase()
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
  if (text.length !== PAIRING_CODE_LENGTH) return null;
  for (const ch of text) if (!PAIRING_CODE_ALPHABET.includes(ch)) return null;
  return text;
}

/** The display form `XXXX-XXXX` of a normalised code. */
export function displayPairingCode(normalised: string): string {
  return `${normalised.slice(0, 4)}-${normalised.slice(4)}`;
}

/** A pair URL carries the code in its `pair` query parameter: `<origin>/?pair=XXXX-XXXX`. */
export const PAIR_URL_PARAM = 'pair';

// ---------------------------------------------------------------------------
// Bodies.

export const PAIRING_TTL_DEFAULT_S = 900;
export const PAIRING_TTL_MIN_S = 60;
export const PAIRING_TTL_MAX_S = 86_400;

export const CreatePairingCodeBody = Type.Object(
  {
    event_id: Uuid,
    name: Type.Optional(Text({ minLength: 1, maxLength: 200, description: 'Name the paired device gets' })),
    gate_id: Type.Optional(Uuid),
    ttl_s: Type.Optional(
      Count({
        minimum: PAIRING_TTL_MIN_S,
        maximum: PAIRING_TTL_MAX_S,
        description: `Seconds the code stays valid (default ${PAIRING_TTL_DEFAULT_S})`,
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreatePairingCodeBody = Static<typeof CreatePairingCodeBody>;

export const PairDeviceBody = Type.Object(
  {
    code: Text({
      minLength: 1,
      maxLength: 32,
      description: 'The pairing code, e.g. 7K3M-Q9TZ (case, hyphens and spaces do not matter)',
    }),
    name: Type.Optional(
      Text({ minLength: 1, maxLength: 200, description: 'Used when the organiser gave the code no device name' }),
    ),
    public_key: Text({
      minLength: 43,
      maxLength: 44,
      pattern: '^[A-Za-z0-9_-]{43}=?$',
      description: "The device's Ed25519 public key, base64url (32 bytes)",
    }),
    platform: Type.Optional(
      Text({ minLength: 1, maxLength: 64, description: 'Free text, e.g. "ios", "android", "web"' }),
    ),
  },
  { additionalProperties: false },
);
export type PairDeviceBody = Static<typeof PairDeviceBody>;

const Username = Text({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9._@-]+$',
  description: 'Unique per event, case-insensitive',
});

export const CreateStaffBody = Type.Object(
  {
    username: Username,
    name: Text({ minLength: 1, maxLength: 200 }),
    pin: Text({ maxLength: 12, pattern: '^[0-9]{4,12}$', description: '4 to 12 digits' }),
  },
  { additionalProperties: false },
);
export type CreateStaffBody = Static<typeof CreateStaffBody>;

/** Deliberately loose: a malformed username or PIN is a failed login like any other. */
export const StaffLoginBody = Type.Object(
  {
    username: Text({ minLength: 1, maxLength: 64 }),
    pin: Text({ minLength: 1, maxLength: 64 }),
  },
  { additionalProperties: false },
);
export type StaffLoginBody = Static<typeof StaffLoginBody>;

/** Query strings are not coerced: `limit` is digits, 1 to 1000 (default 100). */
export const LoginLogsQuery = Type.Object({
  limit: Type.Optional(
    Text({ maxLength: 4, pattern: '^[0-9]{1,4}$', description: 'Newest first; 1 to 1000, default 100' }),
  ),
});

// ---------------------------------------------------------------------------
// Responses.

export const PairingCodeResponse = Type.Object({
  code: Type.String({ description: 'XXXX-XXXX; shown once (only its digest is stored)' }),
  expires_at: Timestamp,
  event_id: Uuid,
  gate_id: Nullable(Uuid),
  name: Nullable(Type.String()),
  pair_url: Type.String({ description: '<public origin>/?pair=XXXX-XXXX' }),
  qr_svg: Type.String({ description: 'SVG of a QR code of pair_url' }),
});
export type PairingCodeResponse = Static<typeof PairingCodeResponse>;

/** The paired device: the organisers' view of it (DeviceView). */
export const PairedDeviceView = DeviceView;

export const PairedEventView = Type.Object({
  id: Uuid,
  name: Type.String(),
  starts_at: Timestamp,
  ends_at: Timestamp,
  timezone: Type.String(),
});

export const PairedGateView = Type.Object({ id: Uuid, name: Type.String(), zone_ids: Type.Array(Uuid) });

export const PairDeviceResponse = Type.Object({
  device_id: Type.String(),
  token: Type.String({ description: 'The device token (edt_…), shown once' }),
  device: PairedDeviceView,
  event: PairedEventView,
  gate_id: Nullable(Uuid),
  gates: Type.Array(PairedGateView),
});
export type PairDeviceResponse = Static<typeof PairDeviceResponse>;

export const StaffView = Type.Object({
  id: Uuid,
  username: Type.String(),
  name: Type.String(),
  active: Type.Boolean(),
  created_at: Timestamp,
});
export type StaffView = Static<typeof StaffView>;

export const StaffListResponse = Type.Object({ staff: Type.Array(StaffView) });
export type StaffListResponse = Static<typeof StaffListResponse>;

export const StaffLoginResponse = Type.Object({
  staff: Type.Object({ id: Uuid, username: Type.String(), name: Type.String() }),
  event_id: Uuid,
  logged_in_at: Timestamp,
});
export type StaffLoginResponse = Static<typeof StaffLoginResponse>;

export const LoginLogView = Type.Object({
  id: Uuid,
  identifier: Type.String({ description: 'The username tried' }),
  device_id: Nullable(Type.String()),
  staff_id: Nullable(Uuid),
  success: Type.Boolean(),
  message: Nullable(Type.String()),
  ip_address: Nullable(Type.String()),
  user_agent: Nullable(Type.String()),
  created_at: Timestamp,
});
export type LoginLogView = Static<typeof LoginLogView>;

export const LoginLogsResponse = Type.Object({ logs: Type.Array(LoginLogView) });
export type LoginLogsResponse = Static<typeof LoginLogsResponse>;
