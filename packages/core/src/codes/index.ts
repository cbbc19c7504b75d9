// Public API of ticket codes. Internal modules (frame, varint, base32) stay unexported so
// the wire format can only be produced through issueSignedCode.

export type {
  CodeParseErrorReason,
  CodeParseResult,
  KeyLookup,
  ParsedCode,
  SignatureCheck,
  SignedTicketClaims,
  Signer,
  Verifier,
} from './types.ts';
export { SIGNED_CODE_PREFIX, issueSignedCode, verifySignedCode, type SignedCode } from './signed-code.ts';
export { MAX_CODE_LENGTH, parseScannedCode, signedCodeText } from './scanned-code.ts';
export { CODE_DIGEST_LENGTH, codeDigest, nobleHmacSha256, type HmacSha256 } from './digest.ts';
export {
  classifyScannedCode,
  readScannedCode,
  unmatchedCode,
  type CodeClass,
  type CodeRefusal,
  type CodeScope,
  type EventCode,
  type ScannedCode,
} from './classify.ts';
export { fromHex, toHex } from './hex.ts';
export { fromBase64Url, toBase64Url } from './base64url.ts';
export { ed25519 } from './ed25519.ts';
