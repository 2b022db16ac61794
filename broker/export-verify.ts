/**
 * Offline verification of a chain export (DESIGN §3.2): needs only the export and
 * Trent's root (docs/FORMAT-export.md §4). Checks, in order, and stops at the first
 * failure naming the height, the check and the evidence:
 *   root          the export's root is the expected root (if one is given) and a CA cert
 *   crl           every CRL (the export's, the auditor's) is signed by the root
 *   entry         entries are 1..n, each decodes, names its height, prev = H(n-1)
 *   internal      entry.internal = h(signed header)
 *   certificate   the block's kid names a certificate valid (chain, role, id = submitter,
 *                 not revoked at or before registration) at registration time
 *   block         COSE signature, header, gateway id, body hash (an erased body is
 *                 reported, not failed, when its erasure is logged)
 *   sequence      the submitter's seq = last + 1 and prev = h(last)
 *   receipt       signed by the notary, over these entry bytes and MTH(H(1..n))
 *   checkpoint    signed by the notary, the item's size is the signed size, head and
 *                 root match the chain at that size (verify-extent.ts)
 *   equivocation  two different headers signed for one seq by the gateway, one of them
 *                 the registered one (verify-evidence.ts)
 *   anchor        this chain's checkpoints registered upstream (export-anchors.ts)
 *   upstream      an upstream export given to follow anchors into verifies itself
 *   end           the trailer's size, head and root match
 *   extent        the last checkpoint is at the exported size; only a tail lacks receipts
 *   truncated     a checkpoint of this notary held upstream (or by a witness) is larger
 *   consistency   such a checkpoint is not this chain's at its size
 */
import type { Role } from '../ca/identity.js';
import { X509Certificate } from '../ca/x509.js';
import { ZERO_HASH } from '../core/block.js';
import { equalBytes, toHex } from '../core/bytes.js';
import { MerkleBuilder } from '../core/merkle-builder.js';
import { EXPORT_VERSIONS, type ExportItem, readExport } from './export.js';
import { AnchorChecker, type AnchorSummary, type UpstreamIndex } from './export-anchors.js';
import { type ExportFailure, Fail } from './export-fail.js';
import { CertJudge } from './export-judge.js';
import { type ChainTip, type EntryContext, FIRST, verifyEntry } from './verify-entry.js';
import { verifyEquivocation } from './verify-evidence.js';
import {
  type ChainView,
  checkpointItem,
  requireExtent,
  requireHeld,
  signedCheckpoint,
} from './verify-extent.js';

export type { AnchorSummary } from './export-anchors.js';
export type { ExportCheck, ExportFailure } from './export-fail.js';

export type ExportVerifyResult =
  | {
      readonly ok: true;
      readonly notaryId: string;
      readonly size: number;
      readonly erased: readonly number[];
      readonly unreceipted: readonly number[];
      readonly checkpoints: number;
      /** Equivocation items, each verified as evidence. */
      readonly equivocations: number;
      /** The largest checkpoint of this notary held upstream or by a witness (0 if none). */
      readonly heldCheckpoint: number;
      /** CRLs available (the export's and the auditor's); the newest is the one applied. */
      readonly crls: number;
      /** False when no CRL was available: revocation was not checked. */
      readonly revocationChecked: boolean;
      readonly anchors: AnchorSummary;
    }
  | ExportFailure;

export interface ExportVerifyOptions {
  /** Trent's root as the verifier obtained it independently (recommended). */
  readonly root?: string | Uint8Array;
  /** Trent's CRLs (PEM or DER) the auditor holds, besides those in the export. */
  readonly crls?: readonly (string | Uint8Array)[];
  /** Upstream (regional) exports to follow this chain's anchors into. */
  readonly upstream?: readonly Uint8Array[];
  /** Checkpoints of this notary held elsewhere (a replica, a witness): signed COSE bytes. */
  readonly checkpoints?: readonly Uint8Array[];
  /** Roles allowed as submitters (default gateway and notary). */
  readonly submitterRoles?: readonly Role[];
  readonly skewMs?: number;
}

export async function verifyExport(
  bytes: Uint8Array,
  opts: ExportVerifyOptions = {},
): Promise<ExportVerifyResult> {
  try {
    const upstream: UpstreamIndex[] = [];
    for (const [i, u] of (opts.upstream ?? []).entries()) {
      try {
        // An upstream chain registers anchors: its submitters are notaries.
        const up = await run(u, { ...opts, submitterRoles: ['notary'] }, [], true);
        upstream.push(up.index);
      } catch (err) {
        const f = asFailure(err);
        const at = f.height === undefined ? '' : ` at height ${f.height}`;
        throw new Fail(
          'upstream',
          undefined,
          `upstream export ${i + 1}: ${f.check}${at}: ${f.detail}`,
        );
      }
    }
    return (await run(bytes, opts, upstream, false)).result;
  } catch (err) {
    return asFailure(err);
  }
}

function asFailure(err: unknown): ExportFailure {
  if (err instanceof Fail) return err.toResult();
  return { ok: false, check: 'format', height: undefined, detail: (err as Error).message };
}

type Verified = Extract<ExportVerifyResult, { ok: true }>;

/** Verifies one export; throws Fail at the first failure. `collect` indexes its entries. */
async function run(
  bytes: Uint8Array,
  opts: ExportVerifyOptions,
  upstream: readonly UpstreamIndex[],
  collect: boolean,
): Promise<{ result: Verified; index: UpstreamIndex }> {
  const entries = new Map<string, { height: number; entry: Uint8Array; receipted: boolean }>();
  const bodies = new Map<string, Uint8Array[]>();
  const items = readExport(bytes);
  const next = (): ExportItem | undefined => {
    const r = items.next();
    return r.done ? undefined : r.value;
  };
  const header = next();
  if (header?.kind !== 'header' || !EXPORT_VERSIONS.includes(header.version)) {
    throw new Fail(
      'format',
      undefined,
      `the first item must be a header of version ${EXPORT_VERSIONS.join(' or ')}`,
    );
  }
  const notaryId = header.notaryId;
  const rootItem = next();
  if (rootItem?.kind !== 'root')
    throw new Fail('format', undefined, 'the second item must be the root');
  const rootDer = rootItem.der;
  if (opts.root !== undefined) {
    const expected = new Uint8Array(new X509Certificate(toBuf(opts.root)).rawData);
    if (!equalBytes(expected, rootDer)) {
      throw new Fail(
        'root',
        undefined,
        'the export names another root than the one given',
        expected,
        rootDer,
      );
    }
  }
  const j = new CertJudge(new X509Certificate(Buffer.from(rootDer)), opts.skewMs ?? 300_000);
  for (const [i, c] of (opts.crls ?? []).entries()) await j.addCrl(c, `given CRL ${i + 1}`);
  const roles = opts.submitterRoles ?? ['gateway', 'notary'];
  const anchors = new AnchorChecker(notaryId, j, upstream);
  const ctx: EntryContext = { notaryId, judge: j, submitterRoles: roles };

  const builder = new MerkleBuilder();
  const heads: Uint8Array[] = [];
  const roots: Uint8Array[] = [];
  const erased: number[] = [];
  const unreceipted: number[] = [];
  const gateways = new Map<string, { seq: number; hash: Uint8Array }>();
  // Per submitter, by seq - 1: the height that registered it (equivocation items name one).
  const bySeq = new Map<string, number[]>();
  const internals: Uint8Array[] = [];
  const registeredAt: number[] = [];
  const chain: ChainView = { notaryId, heads, roots };
  let lastCheckpoint: number | undefined;
  let checkpoints = 0;
  let equivocations = 0;
  let crlItems = 0;
  let ended = false;

  for (let item = next(); item; item = next()) {
    if (ended) throw new Fail('format', undefined, 'items after the end trailer');
    switch (item.kind) {
      case 'certificate':
        j.addCertificate(item.der);
        break;
      case 'crl':
        if (header.version < 2)
          throw new Fail('format', undefined, 'crl items need export version 2');
        crlItems += 1;
        await j.addCrl(item.der, `export CRL ${crlItems}`);
        break;
      case 'entry': {
        const tip: ChainTip = {
          size: heads.length,
          head: heads.at(-1) ?? ZERO_HASH,
          builder,
          last: (id) => gateways.get(id) ?? FIRST,
        };
        const v = await verifyEntry({ ...item, erased: item.erased !== undefined }, tip, ctx);
        const h = item.height;
        const e = v.entry;
        if (v.bodyErased) erased.push(h);
        gateways.set(e.submitter, { seq: v.header.seq, hash: v.internal });
        const seqs = bySeq.get(e.submitter) ?? [];
        seqs.push(h);
        bySeq.set(e.submitter, seqs);
        internals.push(v.internal);
        registeredAt.push(e.registeredAt);
        heads.push(v.entryHash);
        roots.push(v.root);
        if (collect) {
          entries.set(toHex(v.internal), {
            height: h,
            entry: item.entry,
            receipted: !!item.receipt,
          });
          if (!v.bodyErased) {
            const list = bodies.get(e.submitter) ?? [];
            list.push(item.body);
            bodies.set(e.submitter, list);
          }
        }
        if (!item.receipt) unreceipted.push(h);
        break;
      }
      case 'checkpoint': {
        checkpoints += 1;
        lastCheckpoint = (await checkpointItem(item, j, chain)).size;
        break;
      }
      case 'equivocation': {
        const h = bySeq.get(item.gateway)?.[item.seq - 1];
        const at = h === undefined ? 0 : registeredAt[h - 1]!;
        const v = await verifyEquivocation(
          item,
          h === undefined ? undefined : internals[h - 1],
          async (cose) => {
            try {
              return await j.signerOf(cose, roles, item.gateway, at, 'equivocation', h);
            } catch (err) {
              if (!(err instanceof Fail)) throw err;
              const why = `${item.gateway} seq ${item.seq}: conflicting header: ${err.message}`;
              throw new Fail('equivocation', h, why);
            }
          },
        );
        if (!v.ok)
          throw new Fail('equivocation', h, `${item.gateway} seq ${item.seq}: ${v.detail}`);
        equivocations += 1;
        break;
      }
      case 'anchor':
        await anchors.check(item, heads, roots);
        break;
      case 'end': {
        ended = true;
        const n = heads.length;
        if (item.size !== n || item.size !== header.size) {
          throw new Fail('end', n, `trailer size ${item.size}, ${n} entries`);
        }
        if (!equalBytes(item.head, heads[n - 1] ?? ZERO_HASH))
          throw new Fail('end', n, 'trailer head is not H(n)');
        if (!equalBytes(item.logRoot, builder.root()))
          throw new Fail('end', n, 'trailer root is not MTH(H(1..n))');
        requireExtent(lastCheckpoint, n, unreceipted);
        break;
      }
      default:
        throw new Fail('format', undefined, `unexpected ${item.kind} item`);
    }
  }
  if (!ended) throw new Fail('end', heads.length, 'the export has no end trailer (truncated?)');
  j.seal();
  const held = await heldCheckpoints(chain, j, upstream, opts.checkpoints ?? []);
  return {
    result: {
      ok: true,
      notaryId,
      size: heads.length,
      erased,
      unreceipted,
      checkpoints,
      equivocations,
      heldCheckpoint: held,
      crls: j.crlCount,
      revocationChecked: j.revocationChecked,
      anchors: anchors.summary(),
    },
    index: { notaryId, entries, bodies, judge: j },
  };
}

/**
 * Checkpoints of this notary held elsewhere: anchor bodies registered in an upstream
 * export (those that are this notary's signed checkpoints; anything else there binds
 * nothing) and checkpoints a witness gives. Each must be of this chain; returns the
 * largest size.
 */
async function heldCheckpoints(
  chain: ChainView,
  judge: CertJudge,
  upstream: readonly UpstreamIndex[],
  given: readonly Uint8Array[],
): Promise<number> {
  let largest = 0;
  for (const u of upstream) {
    for (const body of u.bodies.get(chain.notaryId) ?? []) {
      let cp: Awaited<ReturnType<typeof signedCheckpoint>>;
      try {
        cp = await signedCheckpoint(body, judge, chain.notaryId, 'upstream', undefined);
      } catch (err) {
        if (err instanceof Fail) continue;
        throw err;
      }
      requireHeld(cp, chain, `the upstream export of ${u.notaryId}`);
      largest = Math.max(largest, cp.size);
    }
  }
  for (const [i, cose] of given.entries()) {
    const cp = await signedCheckpoint(cose, judge, chain.notaryId, 'truncated', undefined);
    requireHeld(cp, chain, `given checkpoint ${i + 1}`);
    largest = Math.max(largest, cp.size);
  }
  return largest;
}

function toBuf(v: string | Uint8Array): string | Buffer {
  return typeof v === 'string' ? v : Buffer.from(v);
}
