/**
 * What a pairing QR or a pasted text holds: the organiser's pair URL
 * (`https://host/?pair=ABCD-EFGH`) or the bare code. Returns the code as typed
 * (the server normalises case and confusable letters) or null.
 */
export function pairingCodeFrom(text: string): string | null {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  try {
    const url = new URL(trimmed);
    const code = url.searchParams.get('pair') ?? new URLSearchParams(url.hash.replace(/^#\/?\??/, '')).get('pair');
    return code && isPlausible(code) ? code.trim() : null;
  } catch {
    return isPlausible(trimmed) ? trimmed : null;
  }
}

function isPlausible(code: string): boolean {
  const compact = code.replace(/[\s-]/g, '');
  return /^[0-9a-zA-Z]{8}$/.test(compact);
}
