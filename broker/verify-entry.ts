/**
 * The per-height rules of docs/FORMAT-export.md §4.2, in one place: the auditor's
 * export verifier (export-verify.ts) and the replica (replica-verify.ts) both call
 * `verifyEntry`, so a rule fixed here is fixed for both. Checks, in order:
 *   entry        height, canonical entry bytes, prev = H(n-1)
 *   internal     entry.internal = h(signed header)
 *   certificate  the header's kid names a certificate valid for a submitter role and
 *                id = submitter at registration time (CertJudge)
 *   block        COSE signature, header names the submitter, body hash
 *   erasure      an empty body iff an erasure is logged
 *   sequence     the submitter's seq = last + 1 and prev = h(last)
 *   receipt      (when present) signed by this notary for this notary id, over these
 *                entry bytes and MTH(H(1..n))
 * A failure throws Fail (check, height, detail, expected, actual).
 */
import type { Role } from '../ca/identity.js';
import { type BlockHeader, internalHash, ZERO_HASH } from '../core/block.js';
import { verifyBlock } from '../core/block-verify.js';
import { equalBytes } from '../core/bytes.js';
import { decodeEntry, type Entry, encodeEntry, entryHash } from '../core/entry.js';
import { leafHash } from '../core/merkle.js';
import type { MerkleBuilder } from '../core/merkle-builder.js';
import { verifyReceipt } from '../core/receipt.js';
import { Fail } from './export-fail.js';
import type { CertJudge, SignerKey } from './export-judge.js';

export interface EntryItem {
  readonly height: number;
  readonly entry: Uint8Array;
  readonly signedHeader: Uint8Array;
  readonly body: Uint8Array;
  /** An erasure is logged for this height. */
  readonly erased: boolean;
  readonly receipt: Uint8Array | undefined;
}

/** The chain before this height; `builder` is advanced by one leaf. */
export interface ChainTip {
  readonly size: number;
  readonly head: Uint8Array;
  readonly builder: MerkleBuilder;
  /** The submitter's last registered seq and h (0 and 32 zero bytes before its first). */
  readonly last: (submitter: string) => { seq: number; hash: Uint8Array };
}

export interface EntryContext {
  readonly notaryId: string;
  readonly judge: CertJudge;
  readonly submitterRoles: readonly Role[];
}

export interface VerifiedEntry {
  readonly entry: Entry;
  /** H(n). */
  readonly entryHash: Uint8Array;
  /** h(signed header). */
  readonly internal: Uint8Array;
  readonly header: BlockHeader;
  readonly bodyErased: boolean;
  readonly submitter: SignerKey;
  /** The notary certificate of the receipt, when there is one. */
  readonly notary: SignerKey | undefined;
  /** MTH(H(1..n)). */
  readonly root: Uint8Array;
}

export async function verifyEntry(
  item: EntryItem,
  tip: ChainTip,
  ctx: EntryContext,
): Promise<VerifiedEntry> {
  const h = tip.size + 1;
  if (item.height !== h) throw new Fail('entry', h, `the item names height ${item.height}`);
  const d = decodeEntry(item.entry);
  if (!d.ok) throw new Fail('entry', h, d.detail);
  const e = d.value;
  if (e.height !== h) throw new Fail('entry', h, `the entry names height ${e.height}`);
  if (!equalBytes(encodeEntry(e), item.entry)) throw new Fail('entry', h, 'not canonical bytes');
  if (!equalBytes(e.prev, tip.head))
    throw new Fail('entry', h, 'prev is not H(n-1)', tip.head, e.prev);
  const ih = internalHash(item.signedHeader);
  if (!equalBytes(ih, e.internal)) {
    throw new Fail('internal', h, 'the entry does not register this signed header', e.internal, ih);
  }
  const signer = await ctx.judge.signerOf(
    item.signedHeader,
    ctx.submitterRoles,
    e.submitter,
    e.registeredAt,
    'certificate',
    h,
  );
  const b = verifyBlock({ signedHeader: item.signedHeader, body: item.body }, signer.key, {
    gatewayId: e.submitter,
    kid: signer.kid,
  });
  if (!b.ok) throw new Fail('block', h, `${b.check}: ${b.detail}`, b.expected, b.actual);
  if (b.bodyErased !== item.erased) {
    throw new Fail(
      'erasure',
      h,
      b.bodyErased
        ? 'the body is missing but no erasure is logged'
        : 'an erasure is logged but the body is present',
    );
  }
  const last = tip.last(e.submitter);
  if (b.header.seq !== last.seq + 1 || !equalBytes(b.header.prev, last.hash)) {
    throw new Fail(
      'sequence',
      h,
      `${e.submitter}: seq ${b.header.seq} after ${last.seq}, or prev is not h(${last.seq})`,
    );
  }
  const H = entryHash(item.entry);
  tip.builder.append(leafHash(H));
  const root = tip.builder.root();
  let notary: SignerKey | undefined;
  if (item.receipt) {
    notary = await ctx.judge.signerOf(
      item.receipt,
      ['notary'],
      ctx.notaryId,
      e.registeredAt,
      'receipt',
      h,
    );
    const r = verifyReceipt(item.receipt, notary.key, notary.kid);
    if (!r.ok) throw new Fail('receipt', h, `${r.check}: ${r.detail}`);
    if (r.value.notaryId !== ctx.notaryId) {
      throw new Fail('receipt', h, 'signed for another notary id', ctx.notaryId, r.value.notaryId);
    }
    if (!equalBytes(r.value.entryBytes, item.entry)) {
      throw new Fail('receipt', h, 'the receipt names other entry bytes');
    }
    if (!equalBytes(r.value.logRoot, root)) {
      throw new Fail(
        'receipt',
        h,
        'the receipt log root is not MTH(H(1..n))',
        root,
        r.value.logRoot,
      );
    }
  }
  return {
    entry: e,
    entryHash: H,
    internal: ih,
    header: b.header,
    bodyErased: b.bodyErased,
    submitter: signer,
    notary,
    root,
  };
}

export const FIRST = { seq: 0, hash: ZERO_HASH } as const;
