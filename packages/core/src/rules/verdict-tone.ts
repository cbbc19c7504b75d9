import type { ScanReason } from '../protocol/scan.ts';

/**
 * How a gate shows a verdict: `go` (green ✓, let the person through), `wait`
 * (amber !, look again before acting) or `stop` (red ✕, do not admit). One
 * function for every screen — the scanner app, the CLI, the console's rule
 * check — so a reason can never be green on one and red on another.
 */
export type VerdictTone = 'go' | 'wait' | 'stop';

/**
 * The tone of a reason. Exhaustive: a new reason does not compile until it is
 * given a tone here. `stale` (an offline admission decided on device data that
 * may be out of date) turns a `go` into a `wait`: the device cannot know what
 * other gates admitted since its data was fetched.
 */
export function verdictTone(reason: ScanReason, opts: { stale?: boolean } = {}): VerdictTone {
  const go = opts.stale ? 'wait' : 'go';
  switch (reason) {
    case 'admitted':
    case 're_entry':
    case 'exited':
    case 'exit_not_inside':
    case 'forced':
    case 'admitted_offline': // a scan decided offline, answered again to an online retry of its scan_id
      return go;
    // The same scan already reached the server online: this is its copy, not a second person.
    case 'received_online':
      return 'wait';
    // The same device read the same ticket moments ago (a second read of one
    // presentation): not a second person, so look, don't refuse.
    case 'double_read':
      return 'wait';
    case 'already_used':
    case 'already_inside':
    case 'cancelled':
    case 'blocked':
    case 'not_yet_valid':
    case 'expired':
    case 'wrong_gate':
    case 'gate_closed':
    case 'zone_full':
    case 'wrong_event':
    case 'unknown_code':
    case 'malformed_code':
    case 'bad_signature':
    case 'unknown_key':
    case 'refused_offline':
    case 'failed':
    case 'quarantined':
    case 'tampering':
    case 'conflict':
      return 'stop';
    default:
      return unknownReason(reason);
  }
}

/** Compile time: every reason has a tone. Run time (a newer server's reason on an older app): red, never a crash at a gate. */
function unknownReason(_reason: never): VerdictTone {
  return 'stop';
}
