/**
 * Keyboard-wedge (HID) scanners type the code as very fast key presses ending
 * with Enter. A human typing is much slower, so a burst of characters with
 * gaps under `maxGapMs` that ends in Enter is a scan; anything slower is
 * ignored (the manual entry field handles typing).
 */
export class WedgeBuffer {
  private chars: string[] = [];
  private lastAt = 0;

  constructor(
    private readonly maxGapMs = 50,
    private readonly minLength = 6,
  ) {}

  /** Feed one key; returns the scanned code when Enter closes a burst. */
  key(key: string, at: number): string | null {
    if (this.chars.length > 0 && at - this.lastAt > this.maxGapMs) this.chars = [];
    this.lastAt = at;
    if (key === 'Enter') {
      const code = this.chars.join('');
      this.chars = [];
      return code.length >= this.minLength ? code : null;
    }
    if (key.length === 1) this.chars.push(key);
    return null;
  }
}
