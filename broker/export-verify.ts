/**
 * Offline verification of a chain export (DESIGN §3.2): needs only the export and
 * Trent's root. Checks, in order, and stops at the first failure naming the height,
 * the check and the evidence:
 *   root          the export's root is the expected root (if one is given) and a CA cert
 *   entry         entries are 1..n, each decodes, names its height, prev = H(n-1)
 *   internal      entry.internal = h(signed header)
 *   certificate   the block's kid names a certificate valid (chain, role, id = submitter)
 *                 at registration time (revocation needs a CRL: not in the export)
 *   block         COSE signature, header, gateway id, body hash (an erased body is
 *                 reported, not failed, when its erasure is logged)
 *   sequence      the submitter's seq = last + 1 and prev = h(last)
 *   receipt       signed by the notary, over these entry bytes and MTH(H(1..n))
 *   checkpoint    signed by the notary, head and root match the chain at its size
 *   end           the trailer's size, head and root match
 */
import type { KeyObject } from 'node:crypto';
import type { Role } from '../ca/identity.js';
import { validateCertificate } from '../ca/validate.js';
import { X509Certificate } from '../ca/x509.js';
import { internalHash, ZERO_HASH } from '../core/block.js';
import { verifyBlock } from '../core/block-verify.js';
import { equalBytes, toHex } from '../core/bytes.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { decodeEntry, entryHash } from '../core/entry.js';
import { kidOfCertificate } from '../core/kid.js';
import { leafHash } from '../core/merkle.js';
import { MerkleBuilder } from '../core/merkle-builder.js';
import { verifyCheckpoint, verifyReceipt } from '../core/receipt.js';
import { type ExportItem, readExport } from './export.js';

export type ExportCheck =
  | 'format'
  | 'root'
  | 'entry'
  | 'internal'
  | 'certificate'
  | 'block'
  | 'erasure'
  | 'sequence'
  | 'receipt'
  | 'checkpoint'
  | 'end';

export type ExportVerifyResult =
  | {
      readonly ok: true;
      readonly notaryId: string;
      readonly size: number;
      readonly erased: readonly number[];
      readonly unreceipted: readonly number[];
      readonly checkpoints: number;
      readonly equivocations: number;
    }
  | {
      readonly ok: false;
      readonly check: ExportCheck;
      readonly height: number | undefined;
      readonly detail: string;
      readonly expected?: string;
      readonly actual?: string;
    };

class Fail extends Error {
  constructor(
    readonly check: ExportCheck,
    readonly height: number | undefined,
    detail: string,
    readonly expected?: Uint8Array | string,
    readonly actual?: Uint8Array | string,
  ) {
    super(detail);
  }
}

const hex = (v: Uint8Array | string | undefined) =>
  v === undefined ? undefined : typeof v === 'string' ? v : toHex(v);

export interface ExportVerifyOptions {
  /** Trent's root as the verifier obtained it independently (recommended). */
  readonly root?: string | Uint8Array;
  /** Roles allowed as submitters (default gateway and notary). */
  readonly submitterRoles?: readonly Role[];
  readonly skewMs?: number;
}

export async function verifyExport(
  bytes: Uint8Array,
  opts: ExportVerifyOptions = {},
): Promise<ExportVerifyResult> {
  try {
    return await run(bytes, opts);
  } catch (err) {
    if (err instanceof Fail) {
      const out = { ok: false as const, check: err.check, height: err.height, detail: err.message };
      const e = hex(err.expected);
      const a = hex(err.actual);
      return { ...out, ...(e ? { expected: e } : {}), ...(a ? { actual: a } : {}) };
    }
    return { ok: false, check: 'format', height: undefined, detail: (err as Error).message };
  }
}

async function run(bytes: Uint8Array, opts: ExportVerifyOptions): Promise<ExportVerifyResult> {
  const items = readExport(bytes);
  const next = (): ExportItem | undefined => {
    const r = items.next();
    return r.done ? undefined : r.value;
  };
  const header = next();
  if (header?.kind !== 'header' || header.version !== 1) {
    throw new Fail('format', undefined, 'the first item must be the version 1 header');
  }
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
  const root = new X509Certificate(Buffer.from(rootDer));
  const skewMs = opts.skewMs ?? 300_000;
  const roles = opts.submitterRoles ?? ['gateway', 'notary'];
  const certs = new Map<string, Uint8Array>();
  const validate = async (der: Uint8Array, role: Role, id: string, at: number) =>
    validateCertificate(der, { root, role, id, at: new Date(at), skewMs });

  const builder = new MerkleBuilder();
  const heads: Uint8Array[] = [];
  const roots: Uint8Array[] = [];
  const erased: number[] = [];
  const unreceipted: number[] = [];
  const gateways = new Map<string, { seq: number; hash: Uint8Array }>();
  let notaryKey: { kid: Uint8Array; key: KeyObject } | undefined;
  let checkpoints = 0;
  let equivocations = 0;
  let ended = false;

  const notaryKeyFor = async (
    cose: Uint8Array,
    height: number | undefined,
    at: number,
    what: ExportCheck,
  ) => {
    const m = decodeSign1(cose);
    const kid = m.ok ? m.msg.kid : undefined;
    const der = kid ? certs.get(toHex(kid)) : undefined;
    if (!kid || !der)
      throw new Fail(what, height, `the ${what}'s kid names no certificate in the export`);
    const v = await validate(der, 'notary', header.notaryId, at);
    if (!v.ok) throw new Fail(what, height, `notary certificate: ${v.reason}: ${v.detail}`);
    return { kid, key: v.publicKey.keyObject };
  };

  for (let item = next(); item; item = next()) {
    if (ended) throw new Fail('format', undefined, 'items after the end trailer');
    switch (item.kind) {
      case 'certificate':
        certs.set(toHex(kidOfCertificate(item.der)), item.der);
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
        const m = decodeSign1(item.signedHeader);
        const kid = m.ok ? m.msg.kid : undefined;
        const der = kid ? certs.get(toHex(kid)) : undefined;
        if (!kid || !der)
          throw new Fail('certificate', h, 'the block kid names no certificate in the export');
        let v: Awaited<ReturnType<typeof validate>> | undefined;
        for (const role of roles) {
          v = await validate(der, role, e.submitter, e.registeredAt);
          if (v.ok || v.reason !== 'wrong-role') break;
        }
        if (!v?.ok) throw new Fail('certificate', h, v ? `${v.reason}: ${v.detail}` : 'no role');
        const b = verifyBlock(
          { signedHeader: item.signedHeader, body: item.body },
          v.publicKey.keyObject,
          {
            gatewayId: e.submitter,
            kid,
          },
        );
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
        if (!item.receipt) {
          unreceipted.push(h);
          break;
        }
        notaryKey ??= await notaryKeyFor(item.receipt, h, e.registeredAt, 'receipt');
        const r = verifyReceipt(item.receipt, notaryKey.key, notaryKey.kid);
        if (!r.ok) throw new Fail('receipt', h, `${r.check}: ${r.detail}`);
        if (!equalBytes(r.value.entryBytes, item.entry))
          throw new Fail('receipt', h, 'the receipt names other entry bytes');
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
        const key =
          notaryKey ??
          (await notaryKeyFor(item.checkpoint, undefined, header.exportedAt, 'checkpoint'));
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
        break;
      case 'end': {
        ended = true;
        const n = heads.length;
        if (item.size !== n || item.size !== header.size)
          throw new Fail('end', n, `trailer size ${item.size}, ${n} entries`);
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
  return {
    ok: true,
    notaryId: header.notaryId,
    size: heads.length,
    erased,
    unreceipted,
    checkpoints,
    equivocations,
  };
}

function toBuf(v: string | Uint8Array): string | Buffer {
  return typeof v === 'string' ? v : Buffer.from(v);
}
