/**
 * Equivocation evidence (docs/FORMAT-export.md §4.4): two different block headers that
 * one gateway signed for one seq. The notary records only evidence that passes this
 * check (registrar.ts) and an auditor counts only evidence that passes it
 * (export-verify.ts), so a forged item cannot frame a gateway. The structural test is
 * shared; each caller verifies both signatures under the gateway's certificate first
 * (`verifyEquivocation` does it for an export).
 */
import { type BlockHeader, decodeBlockHeader, internalHash } from '../core/block.js';
import { equalBytes } from '../core/bytes.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { verifySign1 } from '../core/cose-verify.js';
import type { SignerKey } from './export-judge.js';

export type ConflictResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly detail: string };

/** Both headers decode, name `gateway` and `seq`, and say different things. */
export function headersConflict(
  gateway: string,
  seq: number,
  registered: Uint8Array,
  conflicting: Uint8Array,
): ConflictResult {
  const a = headerOf(registered);
  const b = headerOf(conflicting);
  if (typeof a === 'string') return { ok: false, detail: `registered header: ${a}` };
  if (typeof b === 'string') return { ok: false, detail: `conflicting header: ${b}` };
  for (const [which, h] of [
    ['registered', a],
    ['conflicting', b],
  ] as const) {
    if (h.header.gatewayId !== gateway || h.header.seq !== seq) {
      return {
        ok: false,
        detail: `the ${which} header is ${h.header.gatewayId} seq ${h.header.seq}, the item says ${gateway} seq ${seq}`,
      };
    }
  }
  // One header signed twice (ECDSA signatures differ each time) is not two statements.
  if (equalBytes(a.payload, b.payload)) {
    return { ok: false, detail: 'both headers sign the same header bytes' };
  }
  return { ok: true };
}

function headerOf(cose: Uint8Array): { header: BlockHeader; payload: Uint8Array } | string {
  const m = decodeSign1(cose);
  if (!m.ok) return `${m.check}: ${m.detail}`;
  const h = decodeBlockHeader(m.msg.payload);
  if (!h.ok) return h.detail;
  return { header: h.value, payload: m.msg.payload };
}

export interface EquivocationItem {
  readonly gateway: string;
  readonly seq: number;
  readonly registered: Uint8Array;
  readonly conflicting: Uint8Array;
}

/**
 * An export's equivocation item: `registeredInternal` is h of the header the chain
 * registered for (gateway, seq) (undefined if none), `keyOf` the gateway's certificate
 * key a header's kid names, judged at that registration. A failure's detail says why.
 */
export async function verifyEquivocation(
  e: EquivocationItem,
  registeredInternal: Uint8Array | undefined,
  keyOf: (cose: Uint8Array) => Promise<SignerKey>,
): Promise<ConflictResult> {
  if (!registeredInternal) {
    return { ok: false, detail: `${e.gateway} has no block with seq ${e.seq} in the chain` };
  }
  if (!equalBytes(internalHash(e.registered), registeredInternal)) {
    return { ok: false, detail: 'the registered header is not the one the chain registered' };
  }
  const k = await keyOf(e.conflicting);
  const sig = verifySign1(e.conflicting, k.key, { expectedKid: k.kid });
  if (!sig.ok) return { ok: false, detail: `conflicting header: ${sig.check}: ${sig.detail}` };
  return headersConflict(e.gateway, e.seq, e.registered, e.conflicting);
}
