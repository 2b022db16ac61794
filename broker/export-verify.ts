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
 *   checkpoint    signed by the notary, head and root match the chain at its size
 *   anchor        this chain's checkpoints registered upstream (export-anchors.ts)
 *   upstream      an upstream export given to follow anchors into verifies itself
 *   end           the trailer's size, head and root match
 */
import type { Role } from '../ca/identity.js';
import { X509Certificate } from '../ca/x509.js';
import { internalHash, ZERO_HASH } from '../core/block.js';
import { verifyBlock } from '../core/block-verify.js';
import { equalBytes, toHex } from '../core/bytes.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { decodeEntry, entryHash } from '../core/entry.js';
import { leafHash } from '../core/merkle.js';
import { MerkleBuilder } from '../core/merkle-builder.js';
import { decodeCheckpointPayload, verifyCheckpoint, verifyReceipt } from '../core/receipt.js';
import { EXPORT_VERSIONS, type ExportItem, readExport } from './export.js';
import { AnchorChecker, type AnchorSummary, type UpstreamIndex } from './export-anchors.js';
import { type ExportFailure, Fail } from './export-fail.js';
import { CertJudge } from './export-judge.js';

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
      readonly equivocations: number;
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

  const builder = new MerkleBuilder();
  const heads: Uint8Array[] = [];
  const roots: Uint8Array[] = [];
  const erased: number[] = [];
  const unreceipted: number[] = [];
  const gateways = new Map<string, { seq: number; hash: Uint8Array }>();
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
        const h = item.height;
        if (h !== heads.length + 1)
          throw new Fail('entry', h, `expected height ${heads.length + 1}`);
        const d = decodeEntry(item.entry);
        if (!d.ok) throw new Fail('entry', h, d.detail);
        const e = d.value;
        if (e.height !== h) throw new Fail('entry', h, `the entry names height ${e.height}`);
        const prev = heads[h - 2] ?? ZERO_HASH;
        if (!equalBytes(e.prev, prev))
          throw new Fail('entry', h, 'prev is not H(n-1)', prev, e.prev);
        const ih = internalHash(item.signedHeader);
        if (!equalBytes(ih, e.internal)) {
          throw new Fail(
            'internal',
            h,
            'the entry does not register this signed header',
            e.internal,
            ih,
          );
        }
        const signer = await j.signerOf(
          item.signedHeader,
          roles,
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
        if (b.bodyErased !== (item.erased !== undefined)) {
          throw new Fail(
            'erasure',
            h,
            b.bodyErased
              ? 'the body is missing but no erasure is logged'
              : 'an erasure is logged but the body is present',
          );
        }
        if (b.bodyErased) erased.push(h);
        const g = gateways.get(e.submitter) ?? { seq: 0, hash: ZERO_HASH };
        if (b.header.seq !== g.seq + 1 || !equalBytes(b.header.prev, g.hash)) {
          throw new Fail(
            'sequence',
            h,
            `${e.submitter}: seq ${b.header.seq} after ${g.seq}, or prev is not h(${g.seq})`,
          );
        }
        gateways.set(e.submitter, { seq: b.header.seq, hash: ih });
        const H = entryHash(item.entry);
        builder.append(leafHash(H));
        heads.push(H);
        roots.push(builder.root());
        if (collect) {
          entries.set(toHex(ih), { height: h, entry: item.entry, receipted: !!item.receipt });
        }
        if (!item.receipt) {
          unreceipted.push(h);
          break;
        }
        const nk = await j.signerOf(
          item.receipt,
          ['notary'],
          notaryId,
          e.registeredAt,
          'receipt',
          h,
        );
        const r = verifyReceipt(item.receipt, nk.key, nk.kid);
        if (!r.ok) throw new Fail('receipt', h, `${r.check}: ${r.detail}`);
        if (!equalBytes(r.value.entryBytes, item.entry)) {
          throw new Fail('receipt', h, 'the receipt names other entry bytes');
        }
        if (!equalBytes(r.value.logRoot, builder.root())) {
          throw new Fail(
            'receipt',
            h,
            'the receipt log root is not MTH(H(1..n))',
            builder.root(),
            r.value.logRoot,
          );
        }
        break;
      }
      case 'checkpoint': {
        checkpoints += 1;
        const m = decodeSign1(item.checkpoint);
        const claimed = m.ok ? decodeCheckpointPayload(m.msg.payload) : undefined;
        const when = claimed?.ok ? claimed.value.time : header.exportedAt;
        const key = await j.signerOf(
          item.checkpoint,
          ['notary'],
          notaryId,
          when,
          'checkpoint',
          item.size,
        );
        const c = verifyCheckpoint(item.checkpoint, key.key, key.kid);
        if (!c.ok) throw new Fail('checkpoint', item.size, `${c.check}: ${c.detail}`);
        const s = c.value.size;
        if (s > heads.length)
          throw new Fail('checkpoint', s, `size ${s} beyond the chain (${heads.length})`);
        const head = heads[s - 1] ?? ZERO_HASH;
        if (!equalBytes(c.value.head, head))
          throw new Fail('checkpoint', s, 'head is not H(size)', head, c.value.head);
        if (s > 0 && !equalBytes(c.value.logRoot, roots[s - 1]!)) {
          throw new Fail(
            'checkpoint',
            s,
            'log root differs from the chain at that size',
            roots[s - 1],
            c.value.logRoot,
          );
        }
        break;
      }
      case 'equivocation':
        equivocations += 1;
        break;
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
        break;
      }
      default:
        throw new Fail('format', undefined, `unexpected ${item.kind} item`);
    }
  }
  if (!ended) throw new Fail('end', heads.length, 'the export has no end trailer (truncated?)');
  j.seal();
  return {
    result: {
      ok: true,
      notaryId,
      size: heads.length,
      erased,
      unreceipted,
      checkpoints,
      equivocations,
      crls: j.crlCount,
      revocationChecked: j.revocationChecked,
      anchors: anchors.summary(),
    },
    index: { notaryId, entries, judge: j },
  };
}

function toBuf(v: string | Uint8Array): string | Buffer {
  return typeof v === 'string' ? v : Buffer.from(v);
}
