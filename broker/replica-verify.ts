/**
 * Incremental verification of the chain feed, one height after the other, before
 * anything is stored — the checks of docs/FORMAT-export.md §4 step 2, in the same
 * order and vocabulary: entry (height, prev = H(n-1), canonical bytes), internal
 * (h(signed header)), certificate (the kid's certificate chains to Trent's root, role
 * and id = submitter, valid and not revoked at registration time with the CRL held),
 * block (COSE signature, header, body hash), erasure, sequence (the submitter's seq =
 * last + 1, prev = h(last)), receipt (the notary's signature over these entry bytes
 * and MTH(H(1..n))). The first failure throws REPLICA_VERIFY naming its height.
 */
import type { KeyObject } from 'node:crypto';
import type { Role } from '../ca/identity.js';
import { validateCertificate } from '../ca/validate.js';
import { X509Certificate } from '../ca/x509.js';
import { internalHash, ZERO_HASH } from '../core/block.js';
import { verifyBlock } from '../core/block-verify.js';
import { equalBytes, toHex } from '../core/bytes.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { decodeEntry, type Entry, encodeEntry, entryHash } from '../core/entry.js';
import { leafHash } from '../core/merkle.js';
import type { MerkleBuilder } from '../core/merkle-builder.js';
import { verifyReceipt } from '../core/receipt.js';
import type { GatewayState, Registration } from './chain-store.js';
import { type ReplicaCheck, ReplicaError, refused } from './replica-errors.js';
import type { FeedItem } from './replica-source.js';
import type { Trust } from './trust.js';

export interface VerifiedItem {
  readonly item: FeedItem;
  readonly entry: Entry;
  readonly entryHash: Uint8Array;
  readonly registration: Registration;
  /** Signing certificates this item relies on (submitter's, notary's), to keep. */
  readonly certificates: readonly Uint8Array[];
}

/** Where verification starts: the local chain's tip (the builder is advanced in place). */
export interface ChainTip {
  size: number;
  head: Uint8Array;
  readonly builder: MerkleBuilder;
  readonly gateway: (id: string) => GatewayState | undefined;
}

export interface ChainVerifierOptions {
  readonly notaryId: string;
  readonly trust: Trust;
  /** The DER of a signing certificate by kid (local copy first, then the notary). */
  readonly certificate: (kid: Uint8Array) => Promise<Uint8Array | undefined>;
  /** Roles whose blocks the notary registers (default gateway and notary, as verify does). */
  readonly submitterRoles?: readonly Role[];
}

export class ChainVerifier {
  readonly #o: ChainVerifierOptions;
  readonly #valid = new Map<string, { key: KeyObject; from: number; until: number }>();

  constructor(o: ChainVerifierOptions) {
    this.#o = o;
  }

  /**
   * Verifies `items` as heights tip.size+1, …, advancing `tip`: the verified prefix, and
   * the REPLICA_VERIFY error of the first item that failed. Stops (without error) before
   * the first item that has no receipt yet: it is stored only once signed.
   */
  async verifyRun(
    items: readonly FeedItem[],
    tip: ChainTip,
  ): Promise<{ verified: VerifiedItem[]; error: ReplicaError | undefined }> {
    const verified: VerifiedItem[] = [];
    const seqs = new Map<string, { seq: number; hash: Uint8Array }>();
    for (const item of items) {
      if (!item.receipt) break;
      try {
        const v = await this.#verify(item, tip, seqs);
        tip.size += 1;
        tip.head = v.entryHash;
        verified.push(v);
      } catch (err) {
        if (err instanceof ReplicaError) return { verified, error: err };
        throw err;
      }
    }
    return { verified, error: undefined };
  }

  async #verify(
    item: FeedItem,
    tip: ChainTip,
    seqs: Map<string, { seq: number; hash: Uint8Array }>,
  ): Promise<VerifiedItem> {
    const h = tip.size + 1;
    const fail = (check: ReplicaCheck, detail: string) => refused(check, h, detail);
    if (item.height !== h) throw fail('entry', `the notary served height ${item.height}`);
    const d = decodeEntry(item.entry);
    if (!d.ok) throw fail('entry', d.detail);
    const e = d.value;
    if (e.height !== h) throw fail('entry', `the entry names height ${e.height}`);
    if (!equalBytes(encodeEntry(e), item.entry)) throw fail('entry', 'not canonical bytes');
    if (!equalBytes(e.prev, tip.head)) throw fail('entry', 'prev is not H(n-1)');
    const ih = internalHash(item.signedHeader);
    if (!equalBytes(ih, e.internal)) throw fail('internal', 'the entry registers another header');

    const m = decodeSign1(item.signedHeader);
    const kid = m.ok ? m.msg.kid : undefined;
    if (!kid) throw fail('certificate', 'the signed header names no kid');
    const der = await this.#o.certificate(kid);
    if (!der) throw fail('certificate', `no certificate for kid ${toHex(kid)}`);
    let key: KeyObject | undefined;
    let why = 'no role';
    for (const role of this.#o.submitterRoles ?? ['gateway', 'notary']) {
      const v = await this.#validate(der, role, e.submitter, e.registeredAt);
      if (v.ok) {
        key = v.key;
        break;
      }
      why = v.why;
      if (!why.startsWith('wrong-role')) break;
    }
    if (!key) throw fail('certificate', why);

    const b = verifyBlock({ signedHeader: item.signedHeader, body: item.body }, key, {
      gatewayId: e.submitter,
      kid,
    });
    if (!b.ok) throw fail('block', `${b.check}: ${b.detail}`);
    if (b.bodyErased !== (item.erased !== undefined)) {
      throw fail('erasure', b.bodyErased ? 'empty body, no erasure logged' : 'erased yet present');
    }
    const last = seqs.get(e.submitter) ?? this.#lastOf(tip, e.submitter);
    if (b.header.seq !== last.seq + 1 || !equalBytes(b.header.prev, last.hash)) {
      throw fail('sequence', `${e.submitter}: seq ${b.header.seq} after ${last.seq}, or prev`);
    }
    seqs.set(e.submitter, { seq: b.header.seq, hash: ih });

    const H = entryHash(item.entry);
    tip.builder.append(leafHash(H));
    const receipt = item.receipt;
    if (!receipt) throw fail('receipt', 'missing');
    const notary = await this.notaryKey(receipt, e.registeredAt, h, 'receipt');
    const r = verifyReceipt(receipt, notary.key, notary.kid);
    if (!r.ok) throw fail('receipt', `${r.check}: ${r.detail}`);
    if (r.value.notaryId !== this.#o.notaryId)
      throw fail('receipt', `signed for notary '${r.value.notaryId}'`);
    if (!equalBytes(r.value.entryBytes, item.entry))
      throw fail('receipt', 'the receipt names other entry bytes');
    if (!equalBytes(r.value.logRoot, tip.builder.root()))
      throw fail('receipt', 'the receipt log root is not MTH(H(1..n))');

    return {
      item,
      entry: e,
      entryHash: H,
      certificates: [der, notary.der],
      registration: {
        gateway: e.submitter,
        seq: b.header.seq,
        kid,
        signedHeader: item.signedHeader,
        bodyHash: b.header.bodyHash,
        body: item.body,
        internal: ih,
      },
    };
  }

  #lastOf(tip: ChainTip, id: string): { seq: number; hash: Uint8Array } {
    const g = tip.gateway(id);
    return g ? { seq: g.lastSeq, hash: g.lastHash } : { seq: 0, hash: ZERO_HASH };
  }

  /**
   * The notary's key for a receipt or checkpoint: the COSE kid's certificate, valid for
   * role notary and this notary's id at `at` (ms). Throws REPLICA_VERIFY naming `what`.
   */
  async notaryKey(
    cose: Uint8Array,
    at: number,
    height: number,
    what: 'receipt' | 'checkpoint',
  ): Promise<{ kid: Uint8Array; key: KeyObject; der: Uint8Array }> {
    const m = decodeSign1(cose);
    const kid = m.ok ? m.msg.kid : undefined;
    if (!kid) throw refused(what, height, 'not a COSE_Sign1 with a kid');
    const der = await this.#o.certificate(kid);
    if (!der) throw refused(what, height, `no certificate for kid ${toHex(kid)}`);
    const v = await this.#validate(der, 'notary', this.#o.notaryId, at);
    if (!v.ok) throw refused(what, height, `notary certificate: ${v.why}`);
    return { kid, key: v.key, der };
  }

  async #validate(
    der: Uint8Array,
    role: Role,
    id: string,
    at: number,
  ): Promise<{ ok: true; key: KeyObject } | { ok: false; why: string }> {
    const { trust } = this.#o;
    const crl = trust.crl;
    const ck = `${toHex(der)}|${role}|${id}|${crl?.thisUpdate.getTime() ?? 0}`;
    const hit = this.#valid.get(ck);
    // A certificate valid once under this CRL and not listed on it stays valid for any
    // time inside its validity window: the chain and signature checks need not be redone.
    if (hit && at + trust.skewMs >= hit.from && at - trust.skewMs <= hit.until) {
      return { ok: true, key: hit.key };
    }
    // Historical: judged at registration time; a later revocation does not undo a past entry.
    const v = await validateCertificate(der, {
      root: trust.root,
      crl,
      role,
      id,
      at: new Date(at),
      skewMs: trust.skewMs,
      historical: true,
    });
    if (!v.ok) return { ok: false, why: `${v.reason}: ${v.detail}` };
    const listed =
      crl !== undefined && crl.findRevoked(new X509Certificate(Buffer.from(der))) !== null;
    if (!listed) {
      if (this.#valid.size > 10_000) this.#valid.clear();
      this.#valid.set(ck, {
        key: v.publicKey.keyObject,
        from: v.notBefore.getTime(),
        until: v.notAfter.getTime(),
      });
    }
    return { ok: true, key: v.publicKey.keyObject };
  }
}
