import { describe, expect, it } from 'vitest';
import { verdictTone, type VerdictReason } from '../src/index.ts';

describe('verdictTone', () => {
  it('is green for every admission, amber for a double read, red for every refusal', () => {
    const go: VerdictReason[] = ['admitted', 're_entry', 'exited', 'exit_not_inside', 'forced'];
    const stop: VerdictReason[] = [
      'already_used',
      'already_inside',
      'cancelled',
      'blocked',
      'not_yet_valid',
      'expired',
      'wrong_gate',
      'wrong_event',
      'unknown_code',
      'malformed_code',
      'bad_signature',
      'unknown_key',
    ];
    for (const r of go) expect(verdictTone(r), r).toBe('go');
    for (const r of stop) expect(verdictTone(r), r).toBe('stop');
    expect(verdictTone('double_read')).toBe('wait');
  });

  it('turns an admission on stale device data amber, never a refusal green', () => {
    expect(verdictTone('admitted', { stale: true })).toBe('wait');
    expect(verdictTone('already_used', { stale: true })).toBe('stop');
    expect(verdictTone('double_read', { stale: true })).toBe('wait');
  });

  it("shows red, never crashes, for a reason it does not know (a newer server's)", () => {
    expect(verdictTone('some_future_reason' as VerdictReason)).toBe('stop');
  });
});
