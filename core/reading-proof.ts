/**
 * A reading proof (DESIGN §3, issue 3): one reading shown to a third party who sees
 * nothing else, verifiable offline with Trent's root certificate alone.
 *
 *   proof = [1, record, leafIndex, path [bstr32...], signedHeader, gatewayCert,
 *            receipt, notaryCert, anchors [...]]
 *
 *   record       the salted reading record [salt(16), receivedAt, reading] exactly as
 *                sealed (the Merkle leaf data); the salt hides the other readings
 *   path         RFC 9162 inclusion path of the record in the block's reading tree
 *   gatewayCert  DER of the certificate whose SHA-256 is the header's kid
 *   receipt      the notary's COSE_Sign1 receipt for the block
 *   notaryCert   DER of the notary's certificate (its SHA-256 is the receipt's kid)
 *   anchors      [] or [anchor]: the regional anchor covering the entry (proof-anchor.ts),
 *                from the institution receipt up to the regional notary's receipt
 *
 * Certificates are checked by the caller's resolver (ca/validate in the CLI) so core
 * stays free of X.509.
 */
import type { KeyObject } from 'node:crypto';
import { decodeBlockHeader, internalHash } from './block.js';
import { SALT_BYTES } from './body.js';
import { equalBytes } from './bytes.js';
import { decodeSign1 } from './cose-decode.js';
import { verifySign1 } from './cose-verify.js';
import { type DetValue, encodeDet } from './det-cbor.js';
import { bytesField, constField, decodeStruct, FieldError, uintField } from './det-fields.js';
import { HASH_BYTES } from './hash.js';
import { kidOfCertificate } from './kid.js';
import { leafHash } from './merkle.js';
import { MAX_INCLUSION_PATH } from './merkle-cbor.js';
import { rootFromInclusionProof } from './merkle-verify.js';
import {
  type AnchorCheck,
  anchorItem,
  type ProofAnchor,
  readAnchor,
  verifyProofAnchor,
} from './proof-anchor.js';
import { decodeReceiptPayload, verifyReceipt } from './receipt.js';

export type { ProofAnchor } from './proof-anchor.js';

export const PROOF_VERSION = 1;
/** One level of hierarchy: an institution notary anchored in a regional one. */
export const MAX_ANCHORS = 1;

export interface ReadingProof {
  readonly record: Uint8Array;
  readonly leafIndex: number;
  readonly path: readonly Uint8Array[];
  readonly signedHeader: Uint8Array;
  readonly gatewayCert: Uint8Array;
  readonly receipt: Uint8Array;
  readonly notaryCert: Uint8Array;
  readonly anchors: readonly ProofAnchor[];
}

export function encodeReadingProof(p: ReadingProof): Uint8Array {
  return encodeDet([
    PROOF_VERSION,
    p.record,
    p.leafIndex,
    [...p.path],
    p.signedHeader,
    p.gatewayCert,
    p.receipt,
    p.notaryCert,
    p.anchors.map(anchorItem),
  ]);
}

function bytesList(
  v: DetValue | undefined,
  field: string,
  max: number,
  len?: number,
): Uint8Array[] {
  if (!Array.isArray(v) || v.length > max)
    throw new FieldError(field, `expected at most ${max} items`);
  return v.map((x, i) => bytesField(x, `${field}[${i}]`, len));
}

function anchorList(v: DetValue | undefined): ProofAnchor[] {
  if (!Array.isArray(v) || v.length > MAX_ANCHORS) {
    throw new FieldError('anchors', `expected at most ${MAX_ANCHORS} anchor`);
  }
  return v.map((a, i) => readAnchor(a, `anchors[${i}]`));
}

export function decodeReadingProof(bytes: Uint8Array) {
  return decodeStruct(bytes, 'reading proof', 9, (f): ReadingProof => {
    constField(f[0], 'version', PROOF_VERSION);
    return {
      record: bytesField(f[1], 'record'),
      leafIndex: uintField(f[2], 'leafIndex'),
      path: bytesList(f[3], 'path', MAX_INCLUSION_PATH, HASH_BYTES),
      signedHeader: bytesField(f[4], 'signedHeader'),
      gatewayCert: bytesField(f[5], 'gatewayCert'),
      receipt: bytesField(f[6], 'receipt'),
      notaryCert: bytesField(f[7], 'notaryCert'),
      anchors: anchorList(f[8]),
    };
  });
}

export type ProofCheck =
  | 'proof'
  | 'record'
  | 'gateway-certificate'
  | 'header-signature'
  | 'inclusion'
  | 'notary-certificate'
  | 'receipt'
  | 'receipt-block'
  | AnchorCheck;

/**
 * Resolves a certificate (DER) to its public key once it is valid for `role` and `id`
 * at time `at` (ms): the notary's registration time, the time it vouches for. The CLI
 * uses ca/validate with `historical: true`, so what was signed while a certificate was
 * good stays verifiable after it expires or is revoked.
 */
export type CertificateResolver = (
  certDer: Uint8Array,
  role: 'gateway' | 'notary',
  id: string,
  at: number,
) => Promise<{ ok: true; key: KeyObject } | { ok: false; detail: string }>;

export type ReadingProofResult =
  | {
      readonly ok: true;
      /** Canonical reading bytes (decode with decodeReading(…, { format: 'cbor' })). */
      readonly reading: Uint8Array;
      readonly receivedAt: number;
      readonly gatewayId: string;
      readonly gatewaySeq: number;
      readonly notaryId: string;
      readonly height: number;
      /** The regional anchor, when the proof carries one (verified down to Trent's root). */
      readonly anchor?: {
        readonly notaryId: string;
        readonly height: number;
        readonly size: number;
      };
    }
  | { readonly ok: false; readonly check: ProofCheck; readonly detail: string };

const fail = (check: ProofCheck, detail: string) => ({ ok: false as const, check, detail });

/** Verifies every link from the reading to the notary's signature. Never throws. */
export async function verifyReadingProof(
  proofBytes: Uint8Array,
  resolve: CertificateResolver,
): Promise<ReadingProofResult> {
  const d = decodeReadingProof(proofBytes);
  if (!d.ok) return fail('proof', d.detail);
  const p = d.value;

  const rec = decodeStruct(p.record, 'record', 3, (f) => ({
    salt: bytesField(f[0], 'salt', SALT_BYTES),
    receivedAt: uintField(f[1], 'receivedAt'),
    reading: bytesField(f[2], 'reading'),
  }));
  if (!rec.ok) return fail('record', rec.detail);

  // Read the receipt first (unverified) for the time and ids to judge certificates by;
  // nothing from it is trusted until its signature checks out below.
  const rd = decodeSign1(p.receipt);
  if (!rd.ok) return fail('receipt', `${rd.check}: ${rd.detail}`);
  const rp = decodeReceiptPayload(rd.msg.payload);
  if (!rp.ok) return fail('receipt', `payload: ${rp.detail}`);
  const at = rp.value.entry.registeredAt;
  const nt = await resolve(p.notaryCert, 'notary', rp.value.notaryId, at);
  if (!nt.ok) return fail('notary-certificate', nt.detail);
  const r = verifyReceipt(p.receipt, nt.key, kidOfCertificate(p.notaryCert));
  if (!r.ok) return fail('receipt', `${r.check}: ${r.detail}`);
  const entry = r.value.entry;

  const hd = decodeSign1(p.signedHeader);
  if (!hd.ok) return fail('header-signature', `${hd.check}: ${hd.detail}`);
  const claimed = decodeBlockHeader(hd.msg.payload);
  if (!claimed.ok) return fail('header-signature', claimed.detail);
  const gw = await resolve(p.gatewayCert, 'gateway', claimed.value.gatewayId, at);
  if (!gw.ok) return fail('gateway-certificate', gw.detail);
  const sig = verifySign1(p.signedHeader, gw.key, { expectedKid: kidOfCertificate(p.gatewayCert) });
  if (!sig.ok) return fail('header-signature', `${sig.check}: ${sig.detail}`);
  const header = claimed.value;

  const root = rootFromInclusionProof(p.leafIndex, header.count, leafHash(p.record), p.path);
  if (!root.ok) return fail('inclusion', `${root.check}: ${root.detail}`);
  if (!equalBytes(root.root, header.root)) {
    return fail('inclusion', 'the record and path lead to another root than the signed header');
  }
  if (!equalBytes(entry.internal, internalHash(p.signedHeader))) {
    return fail('receipt-block', 'the receipt registers another block');
  }
  if (entry.submitter !== header.gatewayId) {
    return fail('receipt-block', `the receipt names submitter '${entry.submitter}'`);
  }
  let anchor: { notaryId: string; height: number; size: number } | undefined;
  for (const a of p.anchors) {
    const v = await verifyProofAnchor(
      a,
      {
        bytes: r.value.entryBytes,
        height: entry.height,
        notaryId: r.value.notaryId,
        notaryCert: p.notaryCert,
      },
      (der, id, when) => resolve(der, 'notary', id, when),
    );
    if (!v.ok) return fail(v.check, v.detail);
    anchor = { notaryId: v.notaryId, height: v.height, size: v.size };
  }
  return {
    ok: true,
    reading: rec.value.reading,
    receivedAt: rec.value.receivedAt,
    gatewayId: header.gatewayId,
    gatewaySeq: header.seq,
    notaryId: r.value.notaryId,
    height: entry.height,
    ...(anchor ? { anchor } : {}),
  };
}
