/**
 * Reading proofs from the gateway's database (docs/FORMAT.md "Reading proofs"): the
 * spool keeps each sealed reading and its block's salts until the retention window
 * after the receipt, so every Merkle leaf of the block can be rebuilt. Given an anchor
 * source, the proof also carries the regional anchor covering the block's entry. A
 * reading whose block was erased (erasure.ts) has no proof, and says so (GATEWAY_ERASED).
 */
import { decodeBlock } from '../core/block.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { encodeDet } from '../core/det-cbor.js';
import { leafHash } from '../core/merkle.js';
import { inclusionProof } from '../core/merkle-proof.js';
import { encodeReadingProof, type ProofAnchor } from '../core/reading-proof.js';
import { decodeReceiptPayload } from '../core/receipt.js';
import { GatewayCode, GatewayError } from './errors.js';
import type { Spool } from './spool.js';

const SALT = 16;

export interface ProofCertificates {
  /** DER of the gateway's signing certificate (its SHA-256 is the header kid). */
  readonly gateway: Uint8Array;
  /** DER of the notary's signing certificate (its SHA-256 is the receipt kid). */
  readonly notary: Uint8Array;
}

/** The regional anchor covering the notary's entry `height` (e.g. anchor-client.ts). */
export type AnchorSource = (height: number) => Promise<ProofAnchor>;

export async function buildReadingProof(
  spool: Spool,
  deviceId: string,
  seq: number,
  certs: ProofCertificates,
  anchorOf?: AnchorSource,
): Promise<Uint8Array> {
  const none = (why: string) =>
    new GatewayError(GatewayCode.NoProof, `no proof for ${deviceId}#${seq}: ${why}`);
  const reading = await spool.db.get<{ id: number; block_seq: number | null }>(
    'SELECT id, block_seq FROM readings WHERE device_id = ? AND seq = ?',
    [deviceId, seq],
  );
  if (!reading)
    throw none('not in this gateway’s spool (never received, or pruned after retention)');
  if (reading.block_seq === null) throw none('not sealed into a block yet');
  const block = await spool.db.get<{
    bytes: Uint8Array;
    receipt: Uint8Array | null;
    salts: Uint8Array;
    count: number;
  }>('SELECT bytes, receipt, salts, count FROM blocks WHERE seq = ?', [reading.block_seq]);
  if (!block) throw none(`block ${reading.block_seq} is missing`);
  const erasure = await spool.db.get<{ erased_at: number; reason: string }>(
    'SELECT erased_at, reason FROM erasures WHERE seq = ?',
    [reading.block_seq],
  );
  if (erasure) {
    throw new GatewayError(
      GatewayCode.Erased,
      `no proof for ${deviceId}#${seq}: erased — block ${reading.block_seq}'s body and salts were erased at ${new Date(erasure.erased_at).toISOString()} (${erasure.reason}); its signed header and receipt remain`,
    );
  }
  if (!block.receipt) throw none(`block ${reading.block_seq} has no receipt from the notary yet`);
  const members = await spool.db.all<{ id: number; received_at: number; bytes: Uint8Array }>(
    'SELECT id, received_at, bytes FROM readings WHERE block_seq = ? ORDER BY id',
    [reading.block_seq],
  );
  if (members.length !== block.count || block.salts.length !== SALT * block.count) {
    throw none(`block ${reading.block_seq}'s readings were pruned`);
  }
  const records = members.map((m, i) =>
    encodeDet([
      block.salts.subarray(SALT * i, SALT * (i + 1)),
      m.received_at,
      new Uint8Array(m.bytes),
    ]),
  );
  const leafIndex = members.findIndex((m) => m.id === reading.id);
  const decoded = decodeBlock(new Uint8Array(block.bytes));
  if (!decoded.ok) throw none(`block ${reading.block_seq} does not decode: ${decoded.detail}`);
  const receipt = new Uint8Array(block.receipt);
  let anchors: ProofAnchor[] = [];
  if (anchorOf) {
    const rd = decodeSign1(receipt);
    const rp = rd.ok ? decodeReceiptPayload(rd.msg.payload) : undefined;
    if (!rp?.ok) throw none(`block ${reading.block_seq}'s receipt does not decode`);
    anchors = [await anchorOf(rp.value.entry.height)];
  }
  return encodeReadingProof({
    record: records[leafIndex] ?? new Uint8Array(0),
    leafIndex,
    path: inclusionProof(records.map(leafHash), leafIndex),
    signedHeader: decoded.value.signedHeader,
    gatewayCert: certs.gateway,
    receipt,
    notaryCert: certs.notary,
    anchors,
  });
}
