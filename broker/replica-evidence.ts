/**
 * Fork evidence: two statements signed by the same notary (checkpoints, or a receipt,
 * which also names a log root) that cannot both be true of one append-only log. The
 * file a replica writes on a fork is one deterministic CBOR array
 * (docs/OPERATIONS-notary.md, "Replica"):
 *
 *   ["medchain-fork", 1, notaryId, reason, size, [firstKind, first], second,
 *    proof [bstr(32)...], certificates [bstr...], detectedAt ms, detail]
 */
import { type DetValue, decodeDet, encodeDet } from '../core/det-cbor.js';
import { ReplicaCode, ReplicaError } from './replica-errors.js';

export const FORK_MAGIC = 'medchain-fork';

/**
 * same-size     two checkpoints of one size name different heads or roots;
 * not-prefix    a checkpoint is not a prefix of a larger accepted one; proof = [the
 *               larger tree's root at the disputed size, then the RFC 9162 consistency
 *               proof from that size to the larger one] (the first differs from the
 *               disputed checkpoint's root);
 * receipt       a checkpoint disagrees with the receipt of the entry at its size;
 * inconsistent  the notary's own consistency proof from the last accepted checkpoint to
 *               a larger one does not verify (kept as served).
 */
export type ForkReason = 'same-size' | 'not-prefix' | 'receipt' | 'inconsistent';
const REASONS: readonly string[] = ['same-size', 'not-prefix', 'receipt', 'inconsistent'];

export interface ForkEvidence {
  readonly reason: ForkReason;
  /** Size the disputed (second) checkpoint names. */
  readonly size: number;
  /** The statement accepted earlier (or the receipt at `size`). */
  readonly first: { readonly kind: 'checkpoint' | 'receipt'; readonly bytes: Uint8Array };
  /** The disputed signed checkpoint. */
  readonly second: Uint8Array;
  readonly proof: readonly Uint8Array[];
  readonly detail: string;
}

export interface ForkFile extends ForkEvidence {
  readonly notaryId: string;
  /** The notary's signing certificates (DER) the two statements name. */
  readonly certificates: readonly Uint8Array[];
  readonly detectedAt: number;
}

export function encodeForkFile(f: ForkFile): Uint8Array {
  return encodeDet([
    FORK_MAGIC,
    1,
    f.notaryId,
    f.reason,
    f.size,
    [f.first.kind, f.first.bytes],
    f.second,
    [...f.proof],
    [...f.certificates],
    f.detectedAt,
    f.detail,
  ]);
}

export function decodeForkFile(bytes: Uint8Array): ForkFile {
  const bad = (why: string) => new ReplicaError(ReplicaCode.Fork, `fork evidence file: ${why}`);
  let v: DetValue;
  try {
    v = decodeDet(bytes, { maxDepth: 3 });
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (!Array.isArray(v) || v.length !== 11 || v[0] !== FORK_MAGIC || v[1] !== 1)
    throw bad('not a version 1 medchain-fork array of 11 items');
  const [, , notaryId, reason, size, first, second, proof, certs, at, detail] = v;
  const isBytes = (x: DetValue | undefined): x is Uint8Array => x instanceof Uint8Array;
  const byteList = (x: DetValue | undefined) =>
    Array.isArray(x) && x.every(isBytes) ? (x as Uint8Array[]) : undefined;
  const firstKind = Array.isArray(first) ? first[0] : undefined;
  const firstBytes = Array.isArray(first) ? first[1] : undefined;
  const proofs = byteList(proof);
  const certificates = byteList(certs);
  if (
    typeof notaryId !== 'string' ||
    typeof reason !== 'string' ||
    !REASONS.includes(reason) ||
    typeof size !== 'number' ||
    (firstKind !== 'checkpoint' && firstKind !== 'receipt') ||
    !isBytes(firstBytes) ||
    !isBytes(second) ||
    !proofs ||
    !certificates ||
    typeof at !== 'number' ||
    typeof detail !== 'string'
  )
    throw bad('a field has the wrong type');
  return {
    notaryId,
    reason: reason as ForkReason,
    size,
    first: { kind: firstKind, bytes: firstBytes },
    second,
    proof: proofs,
    certificates,
    detectedAt: at,
    detail,
  };
}
