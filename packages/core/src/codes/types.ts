// Public types of the ticket-code module, kept apart so every other module can import them
// without pulling in crypto or codec code.

export interface SignedTicketClaims {
  /** 0..255, which event key signed it (rotation). */
  keyId: number;
  /** 1..2^32-1, compact numeric id of the event. */
  eventRef: number;
  /** 1..2^32-1, the ticket's serial number within the event. */
  ticketSerial: number;
  /** 0..65535, compact id of the ticket type within the event. */
  typeRef: number;
  /**
   * Optional validity window in epoch milliseconds. The wire format stores whole minutes
   * (validFrom rounded down, validUntil rounded up, so the window only ever widens), so
   * decoded claims carry whole minutes, and `null` when absent.
   */
  validFrom?: number | null;
  validUntil?: number | null;
}

/** Returns a 64-byte Ed25519 signature of `message`. */
export type Signer = (message: Uint8Array) => Uint8Array;
export type Verifier = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

export type ParsedCode =
  | { kind: 'signed'; claims: SignedTicketClaims; message: Uint8Array; signature: Uint8Array; text: string }
  | { kind: 'imported'; code: string };

export type CodeParseErrorReason = 'empty' | 'too_long' | 'control_characters' | 'not_text';

export type CodeParseResult = ParsedCode | { kind: 'invalid'; reason: CodeParseErrorReason };

export type KeyLookup = (keyId: number) => Uint8Array | undefined;

export type SignatureCheck = 'ok' | 'unknown_key' | 'bad_signature';
