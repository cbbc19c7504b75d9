/**
 * Reads the golden code-classification vectors (vectors/codes.json), so every
 * package that classifies scanned codes — core, the server's two HTTP paths,
 * the scanner's manifest — can prove it decides exactly like the others.
 */
import { classifyScannedCode, type CodeScope, type EventCode } from '../codes/classify.ts';
import { codeDigest } from '../codes/digest.ts';
import { fromHex, toHex } from '../codes/hex.ts';
import type { KeyLookup, Verifier } from '../codes/types.ts';

type RawKeys = Record<string, string>;
interface RawVectors {
  keys: Record<string, { secret: string; public: string }>;
  event: { ref: number; keys: RawKeys; digest_key: string; tickets: Array<{ serial: number; code: string }> };
  organisation_events: Array<{ ref: number; keys: RawKeys; imported_tickets: string[] }>;
  other_organisation: { ref: number; keys: RawKeys };
  cases: Array<{ name: string; code: string; expect: CodeVectorExpect }>;
}

/** The ticket found (its serial), or the refusal. */
export type CodeVectorExpect = { ticket: number } | { result: string; reason: string };

export interface VectorEventKeys {
  ref: number;
  keys: Map<number, { secretKey: Uint8Array; publicKey: Uint8Array }>;
}

export interface CodeVectors {
  event: VectorEventKeys & { digestKey: Uint8Array; tickets: Array<{ serial: number; code: string }> };
  organisationEvents: Array<VectorEventKeys & { importedTickets: string[] }>;
  otherOrganisation: VectorEventKeys;
  cases: Array<{ name: string; code: string; expect: CodeVectorExpect }>;
}

export function readCodeVectors(json: unknown): CodeVectors {
  const raw = json as RawVectors;
  const keys = (r: RawKeys): VectorEventKeys['keys'] =>
    new Map(
      Object.entries(r).map(([id, name]) => {
        const k = raw.keys[name];
        if (!k) throw new Error(`code vectors: unknown key ${name}`);
        return [Number(id), { secretKey: fromHex(k.secret), publicKey: fromHex(k.public) }];
      }),
    );
  return {
    event: {
      ref: raw.event.ref,
      keys: keys(raw.event.keys),
      digestKey: fromHex(raw.event.digest_key),
      tickets: raw.event.tickets,
    },
    organisationEvents: raw.organisation_events.map((e) => ({
      ref: e.ref,
      keys: keys(e.keys),
      importedTickets: e.imported_tickets,
    })),
    otherOrganisation: { ref: raw.other_organisation.ref, keys: keys(raw.other_organisation.keys) },
    cases: raw.cases,
  };
}

const lookup =
  (e: VectorEventKeys): KeyLookup =>
  (id) =>
    e.keys.get(id)?.publicKey;

/** What the event's scanners know: its keys and the organisation's other events' (never another organisation's). */
export function codeVectorScope(v: CodeVectors): CodeScope {
  const others = new Map(v.organisationEvents.map((e) => [e.ref, lookup(e)]));
  return { eventRef: v.event.ref, keys: lookup(v.event), otherEvents: (ref) => others.get(ref) };
}

/** The reference evaluation: classify with a look-up by keyed digest, as the server stores tickets. */
export function evaluateCodeVector(v: CodeVectors, code: string, verify: Verifier): CodeVectorExpect {
  const bySerial = new Map(v.event.tickets.map((t) => [toHex(codeDigest(v.event.digestKey, t.code)), t.serial]));
  const find = (c: EventCode): number | undefined => bySerial.get(toHex(codeDigest(v.event.digestKey, c.text)));
  const out = classifyScannedCode(code, codeVectorScope(v), verify, find);
  return out.kind === 'ticket' ? { ticket: out.ticket } : { result: out.refusal.result, reason: out.refusal.reason };
}
