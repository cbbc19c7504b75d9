/**
 * Cameras report the same code many times a second and wedge scanners can
 * double-fire: the same code within `windowMs` of its last read is ignored so a
 * ticket held in front of the lens is scanned once (the server would answer
 * "just scanned" anyway, but that costs a verdict screen and a seq).
 */
export class RepeatFilter {
  private last: { code: string; at: number } | null = null;

  constructor(private readonly windowMs = 3000) {}

  accept(code: string, now: number): boolean {
    const repeated = this.last !== null && this.last.code === code && now - this.last.at < this.windowMs;
    // A code still in view keeps extending the window; it needs to leave the frame to be read again.
    this.last = { code, at: now };
    return !repeated;
  }

  reset(): void {
    this.last = null;
  }
}
