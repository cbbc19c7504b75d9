import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** AES-256-GCM: iv (12) | tag (16) | ciphertext. Authenticated, so tampering is detected on unseal. */
export function seal(key: Uint8Array, plaintext: Uint8Array): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

export function unseal(key: Uint8Array, sealed: Uint8Array): Buffer {
  const buf = Buffer.from(sealed);
  const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(0, 12));
  decipher.setAuthTag(buf.subarray(12, 28));
  return Buffer.concat([decipher.update(buf.subarray(28)), decipher.final()]);
}

/** Derives independent sub-keys from the server secret, so one secret serves several purposes safely. */
export function deriveKey(secret: Uint8Array, purpose: string): Buffer {
  return createHash('sha256').update(secret).update('\0entrada:').update(purpose).digest();
}
