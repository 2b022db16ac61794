/**
 * The regional anchor of a reading proof (docs/FORMAT.md "Reading proofs"): it carries
 * the proof from the institution notary's receipt up to the regional notary's.
 *
 *   anchor = [checkpoint, path [bstr32...], anchorHeader, upstreamReceipt, upstreamCert]
 *
 *   checkpoint       the institution notary's signed checkpoint of size s >= the entry's height
 *   path             RFC 9162 inclusion path of the entry (leaf index height-1) in that tree
 *   anchorHeader     the signed header of the anchor block: the institution notary's block
 *                    whose body is `checkpoint` (broker/upstream.ts)
 *   upstreamReceipt  the regional notary's receipt registering that block
 *   upstreamCert     DER of the regional notary's signing certificate
 */
import type { KeyObject } from 'node:crypto';
import { bodyHash, decodeBlockHeader, internalHash } from './block.js';
import { equalBytes } from './bytes.js';
import { decodeSign1 } from './cose-decode.js';
import { verifySign1 } from './cose-verify.js';
import type { DetValue } from './det-cbor.js';
import { bytesField, FieldError } from './det-fields.js';
import { entryHash } from './entry.js';
import { HASH_BYTES } from './hash.js';
import { kidOfCertificate } from './kid.js';
import { leafHash, merkleRoot } from './merkle.js';
import { MAX_INCLUSION_PATH } from './merkle-cbor.js';
import { rootFromInclusionProof } from './merkle-verify.js';
import { decodeReceiptPayload, verifyCheckpoint, verifyReceipt } from './receipt.js';

export interface ProofAnchor {
  readonly checkpoint: Uint8Array;
  readonly path: readonly Uint8Array[];
  readonly anchorHeader: Uint8Array;
  readonly upstreamReceipt: Uint8Array;
  readonly upstreamCert: Uint8Array;
}

export function anchorItem(a: ProofAnchor): DetValue {
  return [a.checkpoint, [...a.path], a.anchorHeader, a.upstreamReceipt, a.upstreamCert];
}

/** Reads one anchor array; throws FieldError (decodeStruct turns it into a failure). */
export function readAnchor(v: DetValue | undefined, field: string): ProofAnchor {
  if (!Array.isArray(v) || v.length !== 5) throw new FieldError(field, 'expected 5 items');
  const path = v[1];
  if (!Array.isArray(path) || path.length > MAX_INCLUSION_PATH) {
    throw new FieldError(`${field}.path`, `expected at most ${MAX_INCLUSION_PATH} hashes`);
  }
  return {
    checkpoint: bytesField(v[0], `${field}.checkpoint`),
    path: path.map((x, i) => bytesField(x, `${field}.path[${i}]`, HASH_BYTES)),
    anchorHeader: bytesField(v[2], `${field}.anchorHeader`),
    upstreamReceipt: bytesField(v[3], `${field}.upstreamReceipt`),
    upstreamCert: bytesField(v[4], `${field}.upstreamCert`),
  };
}

export type AnchorCheck =
  | 'anchor-receipt'
  | 'anchor-certificate'
  | 'anchor-block'
  | 'anchor-checkpoint'
  | 'anchor-inclusion';

/** Resolves a notary certificate to its key when valid for that id at `at` (ms). */
export type NotaryResolver = (
  certDer: Uint8Array,
  id: string,
  at: number,
) => Promise<{ ok: true; key: KeyObject } | { ok: false; detail: string }>;

export type AnchorResult =
  | {
      readonly ok: true;
      /** The regional notary, the height of the anchor block there, the anchored size. */
      readonly notaryId: string;
      readonly height: number;
      readonly size: number;
    }
  | { readonly ok: false; readonly check: AnchorCheck; readonly detail: string };

const fail = (check: AnchorCheck, detail: string) => ({ ok: false as const, check, detail });

/**
 * Verifies that the entry `entryBytes` (height `height`, registered by `notaryId`, whose
 * certificate is `notaryCert`) is inside a checkpoint the regional notary registered.
 */
export async function verifyProofAnchor(
  a: ProofAnchor,
  entry: {
    readonly bytes: Uint8Array;
    readonly height: number;
    readonly notaryId: string;
    readonly notaryCert: Uint8Array;
  },
  resolve: NotaryResolver,
): Promise<AnchorResult> {
  // The regional receipt, read unverified first for whom and when to judge.
  const rd = decodeSign1(a.upstreamReceipt);
  const claimed = rd.ok ? decodeReceiptPayload(rd.msg.payload) : undefined;
  if (!claimed?.ok) return fail('anchor-receipt', 'the regional receipt does not decode');
  const at = claimed.value.entry.registeredAt;
  const up = await resolve(a.upstreamCert, claimed.value.notaryId, at);
  if (!up.ok) return fail('anchor-certificate', up.detail);
  const r = verifyReceipt(a.upstreamReceipt, up.key, kidOfCertificate(a.upstreamCert));
  if (!r.ok) return fail('anchor-receipt', `${r.check}: ${r.detail}`);
  const registered = r.value.entry;
  if (!equalBytes(registered.internal, internalHash(a.anchorHeader))) {
    return fail('anchor-receipt', 'the regional receipt registers another block');
  }
  if (registered.submitter !== entry.notaryId) {
    return fail('anchor-receipt', `the regional receipt names submitter '${registered.submitter}'`);
  }

  // The anchor block and its checkpoint, signed by the institution notary; the regional
  // registration dates them, so its certificate is judged then.
  const nt = await resolve(entry.notaryCert, entry.notaryId, at);
  if (!nt.ok) return fail('anchor-block', `notary certificate: ${nt.detail}`);
  const kid = kidOfCertificate(entry.notaryCert);
  const sig = verifySign1(a.anchorHeader, nt.key, { expectedKid: kid });
  if (!sig.ok) return fail('anchor-block', `${sig.check}: ${sig.detail}`);
  const h = decodeBlockHeader(sig.msg.payload);
  if (!h.ok) return fail('anchor-block', h.detail);
  const header = h.value;
  if (header.gatewayId !== entry.notaryId || header.count !== 1) {
    return fail('anchor-block', `not an anchor block of '${entry.notaryId}'`);
  }
  if (
    !equalBytes(header.bodyHash, bodyHash(a.checkpoint)) ||
    !equalBytes(header.root, merkleRoot([leafHash(a.checkpoint)]))
  ) {
    return fail('anchor-block', 'the anchor block does not carry this checkpoint');
  }
  const c = verifyCheckpoint(a.checkpoint, nt.key, kid);
  if (!c.ok) return fail('anchor-checkpoint', `${c.check}: ${c.detail}`);
  const cp = c.value;
  if (cp.notaryId !== entry.notaryId) {
    return fail('anchor-checkpoint', `the checkpoint names notary '${cp.notaryId}'`);
  }
  if (cp.size < entry.height) {
    return fail('anchor-checkpoint', `size ${cp.size} does not cover height ${entry.height}`);
  }
  const root = rootFromInclusionProof(
    entry.height - 1,
    cp.size,
    leafHash(entryHash(entry.bytes)),
    a.path,
  );
  if (!root.ok) return fail('anchor-inclusion', `${root.check}: ${root.detail}`);
  if (!equalBytes(root.root, cp.logRoot)) {
    return fail('anchor-inclusion', 'the entry and path lead to another root than the checkpoint');
  }
  return { ok: true, notaryId: r.value.notaryId, height: registered.height, size: cp.size };
}
