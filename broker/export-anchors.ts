/**
 * Anchor items of an export (docs/FORMAT-export.md §4.5): each is this notary's own
 * checkpoint, sealed as a block of its own sequence and registered by an upstream
 * (regional) notary. Checked here: the block's signature and sequence, the checkpoint
 * inside it against this chain, and that the receipt registers this very block and is
 * signed by the upstream notary (its certificate is carried in the export). With
 * the upstream's own export (verified first, as a whole), each receipted anchor is
 * followed into it: its block must be an entry there, and its receipt must verify
 * under the upstream notary's certificate over that entry's bytes.
 */
import { decodeBlock, decodeBlockHeader, ZERO_HASH } from '../core/block.js';
import { verifyBlock } from '../core/block-verify.js';
import { equalBytes, toHex } from '../core/bytes.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { decodeReceiptPayload, verifyCheckpoint, verifyReceipt } from '../core/receipt.js';
import { Fail } from './export-fail.js';
import type { CertJudge } from './export-judge.js';

/** What an upstream export vouches for: its entries by internal hash h(n). */
export interface UpstreamIndex {
  readonly notaryId: string;
  readonly entries: ReadonlyMap<
    string,
    { readonly height: number; readonly entry: Uint8Array; readonly receipted: boolean }
  >;
  /** Bodies of its entries by submitter (anchors: a notary's signed checkpoints). */
  readonly bodies: ReadonlyMap<string, readonly Uint8Array[]>;
  /** The upstream notary's judge: its certificates, its CRLs. */
  readonly judge: CertJudge;
}

export interface AnchorSummary {
  /** Anchor items in the export. */
  readonly count: number;
  /** Anchors with an upstream receipt. */
  readonly receipted: number;
  /** Anchors found in an upstream export (with a receipt there, verified with that export). */
  readonly followed: number;
  /** Heights 1..n of this chain committed to by a followed anchor (n = its largest size). */
  readonly coveredHeights: number;
  /** The largest checkpoint size among receipted anchors. */
  readonly highestAnchoredSize: number;
  /** Upstream notaries the anchors were followed into. */
  readonly upstream: readonly string[];
}

export interface AnchorItem {
  readonly upstreamSeq: number;
  readonly size: number;
  readonly block: Uint8Array;
  readonly receipt: Uint8Array | undefined;
}

export class AnchorChecker {
  readonly #notaryId: string;
  readonly #judge: CertJudge;
  readonly #upstream: readonly UpstreamIndex[];
  #seq = 0;
  #prev: Uint8Array = ZERO_HASH;
  #count = 0;
  #receipted = 0;
  #followed = 0;
  #covered = 0;
  #highest = 0;

  constructor(notaryId: string, judge: CertJudge, upstream: readonly UpstreamIndex[]) {
    this.#notaryId = notaryId;
    this.#judge = judge;
    this.#upstream = upstream;
  }

  /**
   * Checks one anchor against this chain: `heads[i]` = H(i+1), `roots[i]` = MTH(H(1..i+1)).
   * Failures are reported at the anchored size, the institution height the anchor vouches for.
   */
  async check(a: AnchorItem, heads: readonly Uint8Array[], roots: readonly Uint8Array[]) {
    this.#count += 1;
    const at = a.size;
    const fail = (why: string, expected?: Uint8Array | string, actual?: Uint8Array | string) =>
      new Fail('anchor', at, `anchor ${a.upstreamSeq}: ${why}`, expected, actual);
    const b = decodeBlock(a.block);
    if (!b.ok) throw fail(`block: ${b.detail}`);
    const { signedHeader, body } = b.value;
    const rp = a.receipt ? decodeSign1(a.receipt) : undefined;
    const claimed = rp?.ok ? decodeReceiptPayload(rp.msg.payload) : undefined;
    if (a.receipt && !claimed?.ok) throw fail('the receipt does not decode');
    // The upstream registration dates the anchor; a pending one is judged when it was sealed.
    const sh = decodeSign1(signedHeader);
    const sealedAt = sh.ok ? readSealedAt(sh.msg.payload) : undefined;
    const when = claimed?.ok ? claimed.value.entry.registeredAt : sealedAt;
    if (when === undefined) throw fail('the block header does not decode');
    const signer = await this.#judge.signerOf(
      signedHeader,
      ['notary'],
      this.#notaryId,
      when,
      'anchor',
      at,
    );
    const v = verifyBlock(b.value, signer.key, { gatewayId: this.#notaryId, kid: signer.kid });
    if (!v.ok) throw fail(`block ${v.check}: ${v.detail}`, v.expected, v.actual);
    if (v.bodyErased) throw fail('the block carries no checkpoint');
    if (v.header.seq !== a.upstreamSeq || v.header.seq !== this.#seq + 1) {
      throw fail(`block seq ${v.header.seq}; expected ${this.#seq + 1}`);
    }
    if (!equalBytes(v.header.prev, this.#prev)) throw fail('block prev is not h(previous anchor)');
    this.#seq = v.header.seq;
    this.#prev = v.hash;

    const cpSigner = await this.#judge.signerOf(
      body,
      ['notary'],
      this.#notaryId,
      when,
      'anchor',
      at,
    );
    const c = verifyCheckpoint(body, cpSigner.key, cpSigner.kid);
    if (!c.ok) throw fail(`checkpoint ${c.check}: ${c.detail}`);
    const cp = c.value;
    if (cp.notaryId !== this.#notaryId) throw fail(`the checkpoint names notary '${cp.notaryId}'`);
    if (cp.size !== a.size) throw fail(`the checkpoint has size ${cp.size}, the item ${a.size}`);
    if (cp.size > heads.length) throw fail(`size ${cp.size} beyond the chain (${heads.length})`);
    const head = heads[cp.size - 1] ?? ZERO_HASH;
    if (!equalBytes(cp.head, head)) throw fail('the anchored head is not H(size)', head, cp.head);
    const root = roots[cp.size - 1];
    if (root && !equalBytes(cp.logRoot, root)) {
      throw fail('the anchored log root is not this chain’s at that size', root, cp.logRoot);
    }

    const h = toHex(v.hash);
    const up = this.#upstream.find((u) => u.entries.has(h));
    const e = up?.entries.get(h);
    if (!a.receipt || !claimed?.ok) {
      // Pending here, but the upstream's own export may show it registered (and receipted
      // there): the receipt was on its way when this export was taken.
      if (e?.receipted) this.#follow(cp.size);
      return;
    }
    this.#receipted += 1;
    this.#highest = Math.max(this.#highest, cp.size);
    const entry = claimed.value.entry;
    if (!equalBytes(entry.internal, v.hash) || entry.submitter !== this.#notaryId) {
      throw fail('the receipt registers another block or submitter');
    }
    // The regional notary's certificate travels in this export: its receipt is evidence
    // only once verified, upstream export or not.
    const upId = claimed.value.notaryId;
    if (upId === this.#notaryId) throw fail('the receipt is signed by this notary, not upstream');
    const rk = await this.#judge.signerOf(
      a.receipt,
      ['notary'],
      upId,
      entry.registeredAt,
      'anchor',
      at,
    );
    const rv = verifyReceipt(a.receipt, rk.key, rk.kid);
    if (!rv.ok) throw fail(`receipt ${rv.check}: ${rv.detail}`);
    if (this.#upstream.length === 0) return;
    if (!up || !e) {
      throw fail(
        `upstream height ${entry.height} (${claimed.value.notaryId}) is not in the upstream export`,
      );
    }
    const ns = await up.judge.signerOf(
      a.receipt,
      ['notary'],
      up.notaryId,
      entry.registeredAt,
      'anchor',
      at,
    );
    const r = verifyReceipt(a.receipt, ns.key, ns.kid);
    if (!r.ok) throw fail(`upstream receipt ${r.check}: ${r.detail}`);
    if (!equalBytes(r.value.entryBytes, e.entry) || r.value.notaryId !== up.notaryId) {
      throw fail(`the upstream receipt disagrees with ${up.notaryId}'s entry ${e.height}`);
    }
    this.#follow(cp.size);
  }

  #follow(size: number): void {
    this.#followed += 1;
    this.#covered = Math.max(this.#covered, size);
  }

  summary(): AnchorSummary {
    return {
      count: this.#count,
      receipted: this.#receipted,
      followed: this.#followed,
      coveredHeights: this.#covered,
      highestAnchoredSize: this.#highest,
      upstream: this.#upstream.map((u) => u.notaryId),
    };
  }
}

/** sealedAt of an unverified block header (only to pick the time to judge a certificate at). */
function readSealedAt(payload: Uint8Array): number | undefined {
  const d = decodeBlockHeader(payload);
  return d.ok ? d.value.sealedAt : undefined;
}
