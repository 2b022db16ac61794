/**
 * The extent of an export (docs/FORMAT-export.md §4.3, §4.6): what the notary signed
 * about the size of its chain, checked against the chain in the file.
 *   checkpoint   each checkpoint is signed by this notary, its unsigned `size` field is
 *                the signed size, and head and log root are the chain's at that size;
 *   extent       the last checkpoint is at exactly the exported size, and entries
 *                without a receipt form the tail after the last receipted one;
 *   truncated    a checkpoint of this notary held elsewhere (an upstream export, a
 *                witness) is larger than the exported chain;
 *   consistency  such a checkpoint is not the exported chain's at its size (with every
 *                leaf at hand, recomputing MTH at that size is the RFC 9162 check).
 */
import { equalBytes } from '../core/bytes.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { type Checkpoint, decodeCheckpointPayload, verifyCheckpoint } from '../core/receipt.js';
import { type ExportCheck, Fail } from './export-fail.js';
import type { CertJudge } from './export-judge.js';

/** The chain as verified so far: heads[i] = H(i+1), roots[i] = MTH(H(1..i+1)). */
export interface ChainView {
  readonly notaryId: string;
  readonly heads: readonly Uint8Array[];
  readonly roots: readonly Uint8Array[];
}

/** A checkpoint signed by this notary (certificate judged at its own `time`). */
export async function signedCheckpoint(
  cose: Uint8Array,
  judge: CertJudge,
  notaryId: string,
  check: ExportCheck,
  height: number | undefined,
): Promise<Checkpoint> {
  const m = decodeSign1(cose);
  const claimed = m.ok ? decodeCheckpointPayload(m.msg.payload) : undefined;
  if (!claimed?.ok) throw new Fail(check, height, 'not a checkpoint');
  const key = await judge.signerOf(cose, ['notary'], notaryId, claimed.value.time, check, height);
  const c = verifyCheckpoint(cose, key.key, key.kid);
  if (!c.ok) throw new Fail(check, height, `${c.check}: ${c.detail}`);
  if (c.value.notaryId !== notaryId) {
    throw new Fail(
      check,
      height,
      `signed for notary '${c.value.notaryId}'`,
      notaryId,
      c.value.notaryId,
    );
  }
  return c.value;
}

/** Head and log root of `cp` are the chain's at its size; `check` names a mismatch. */
export function matchesChain(cp: Checkpoint, chain: ChainView, check: ExportCheck): void {
  const s = cp.size;
  const head = chain.heads[s - 1];
  const root = chain.roots[s - 1];
  if (s === 0) return;
  if (!head || !root)
    throw new Fail(check, s, `size ${s} beyond the chain (${chain.heads.length})`);
  if (!equalBytes(cp.head, head)) throw new Fail(check, s, 'head is not H(size)', head, cp.head);
  if (!equalBytes(cp.logRoot, root)) {
    throw new Fail(check, s, 'log root differs from the chain at that size', root, cp.logRoot);
  }
}

/** A `checkpoint` item: signed, its unsigned size equal to the signed one, on this chain. */
export async function checkpointItem(
  item: { readonly size: number; readonly checkpoint: Uint8Array },
  judge: CertJudge,
  chain: ChainView,
): Promise<Checkpoint> {
  const cp = await signedCheckpoint(
    item.checkpoint,
    judge,
    chain.notaryId,
    'checkpoint',
    item.size,
  );
  if (cp.size !== item.size) {
    throw new Fail(
      'checkpoint',
      item.size,
      'the item size is not the signed size',
      String(cp.size),
      String(item.size),
    );
  }
  matchesChain(cp, chain, 'checkpoint');
  return cp;
}

/**
 * The export ends in a checkpoint at exactly its size (`last` = the last checkpoint
 * item's size), and only a tail of entries lacks receipts: a notary that stops between
 * committing a batch and signing its receipts signs them at restart, so a gap
 * anywhere else, or a chain without any signature, is an edit.
 */
export function requireExtent(
  last: number | undefined,
  size: number,
  unreceipted: readonly number[],
): void {
  if (last !== size) {
    throw new Fail(
      'extent',
      size,
      last === undefined
        ? 'no checkpoint: nothing the notary signed states the size of this export'
        : `the last checkpoint is of size ${last}, the export has ${size} entries`,
      String(size),
      last === undefined ? 'none' : String(last),
    );
  }
  for (const [i, h] of unreceipted.entries()) {
    const tailStart = size - unreceipted.length + 1;
    if (h !== tailStart + i) {
      throw new Fail('extent', h, `height ${h} has no receipt, yet a later height has one`);
    }
  }
}

/** A checkpoint of this notary held elsewhere (`source`) must be of this chain. */
export function requireHeld(cp: Checkpoint, chain: ChainView, source: string): void {
  const n = chain.heads.length;
  if (cp.size > n) {
    throw new Fail(
      'truncated',
      n,
      `${source} holds ${chain.notaryId}'s signed checkpoint of size ${cp.size}; the export has ${n} entries`,
      String(cp.size),
      String(n),
    );
  }
  try {
    matchesChain(cp, chain, 'consistency');
  } catch (err) {
    if (err instanceof Fail) {
      throw new Fail(
        'consistency',
        err.height,
        `${source}: ${err.message}`,
        err.expected,
        err.actual,
      );
    }
    throw err;
  }
}
