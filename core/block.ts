/**
 * Internal blocks (DESIGN §2 "seal"): what a gateway writes and a notary registers.
 *
 *   header        = [1, gatewayId, seq, prev(32), bodyHash(32), root(32), count, sealedAt]
 *   signed header = COSE_Sign1 (medchain profile, ES256) with payload = header bytes
 *   block         = [1, signed header bstr, body bstr]   (body: core/body.ts)
 *   h(n)          = SHA-256(0x11 || signed header bytes)
 *
 * h covers the signed header, not the body: the header commits to the body through
 * bodyHash, so a body can be erased (DESIGN §3.8) and the chain still verifies.
 */
import { type ReaderPublicKey, type ReadingToSeal, type SaltedRecord, sealBody } from './body.js';
import { CoreInputError, equalBytes } from './bytes.js';
import { sign1 } from './cose.js';
import { encodeDet } from './det-cbor.js';
import {
  bytesField,
  constField,
  decodeStruct,
  idField,
  type StructResult,
  uintField,
} from './det-fields.js';
import { HASH_BYTES, Tag, taggedHash } from './hash.js';
import { leafHash, merkleRoot } from './merkle.js';
import type { Signer } from './signer.js';

export const BLOCK_VERSION = 1;
/** prev of a gateway's first block (seq 1). */
export const ZERO_HASH: Uint8Array = new Uint8Array(HASH_BYTES);
/** A block carries at most this many readings (the Merkle path stays short, the body bounded). */
export const MAX_BLOCK_READINGS = 100_000;

export interface BlockHeader {
  readonly gatewayId: string;
  /** Gateway sequence number, 1 for its first block, +1 for each next. */
  readonly seq: number;
  /** h of the gateway's previous block; ZERO_HASH when seq is 1. */
  readonly prev: Uint8Array;
  readonly bodyHash: Uint8Array;
  /** RFC 9162 root over the salted reading records (leaf data = record bytes). */
  readonly root: Uint8Array;
  readonly count: number;
  /** ms since epoch, gateway clock. */
  readonly sealedAt: number;
}

export function encodeBlockHeader(h: BlockHeader): Uint8Array {
  return encodeDet([
    BLOCK_VERSION,
    h.gatewayId,
    h.seq,
    h.prev,
    h.bodyHash,
    h.root,
    h.count,
    h.sealedAt,
  ]);
}

export function decodeBlockHeader(bytes: Uint8Array): StructResult<BlockHeader> {
  return decodeStruct(bytes, 'block header', 8, (f) => {
    constField(f[0], 'version', BLOCK_VERSION);
    const seq = uintField(f[2], 'seq', 1);
    const prev = bytesField(f[3], 'prev', HASH_BYTES);
    return {
      gatewayId: idField(f[1], 'gatewayId'),
      seq,
      prev,
      bodyHash: bytesField(f[4], 'bodyHash', HASH_BYTES),
      root: bytesField(f[5], 'root', HASH_BYTES),
      count: uintField(f[6], 'count', 1),
      sealedAt: uintField(f[7], 'sealedAt'),
    };
  });
}

/** The AAD of a block's body: binds the ciphertext to this gateway and sequence number. */
export function bodyAad(gatewayId: string, seq: number): Uint8Array {
  return encodeDet([BLOCK_VERSION, gatewayId, seq]);
}

export function bodyHash(body: Uint8Array): Uint8Array {
  return taggedHash(Tag.BlockBody, body);
}

/** h(n): the internal hash a notary registers. */
export function internalHash(signedHeader: Uint8Array): Uint8Array {
  return taggedHash(Tag.InternalBlock, signedHeader);
}

export interface InternalBlock {
  readonly signedHeader: Uint8Array;
  /** Encrypted body; empty when erased (DESIGN §3.8). */
  readonly body: Uint8Array;
}

export function encodeBlock(b: InternalBlock): Uint8Array {
  return encodeDet([BLOCK_VERSION, b.signedHeader, b.body]);
}

export function decodeBlock(bytes: Uint8Array, maxBytes = 64 << 20): StructResult<InternalBlock> {
  return decodeStruct(
    bytes,
    'internal block',
    3,
    (f) => {
      constField(f[0], 'version', BLOCK_VERSION);
      return { signedHeader: bytesField(f[1], 'signedHeader'), body: bytesField(f[2], 'body') };
    },
    maxBytes,
  );
}

export interface SealInput {
  readonly gatewayId: string;
  readonly seq: number;
  readonly prev: Uint8Array;
  readonly readings: readonly ReadingToSeal[];
  readonly readers: readonly ReaderPublicKey[];
  readonly signer: Signer;
  readonly sealedAt: number;
}

export interface SealedBlock {
  readonly header: BlockHeader;
  readonly block: InternalBlock;
  /** encodeBlock(block): what the gateway submits. */
  readonly bytes: Uint8Array;
  /** h of this block: the next block's prev. */
  readonly hash: Uint8Array;
  /** Salted records in leaf order, for reading proofs. */
  readonly records: readonly SaltedRecord[];
}

/** Encrypts, builds the Merkle root, signs the header through `signer` (an HSM in production). */
export async function sealBlock(input: SealInput): Promise<SealedBlock> {
  const n = input.readings.length;
  if (n < 1 || n > MAX_BLOCK_READINGS) {
    throw new CoreInputError(`readings: 1 to ${MAX_BLOCK_READINGS} readings, got ${n}`);
  }
  if (input.seq === 1 && !equalBytes(input.prev, ZERO_HASH)) {
    throw new CoreInputError('prev: the first block (seq 1) has prev = 32 zero bytes');
  }
  const { body, records } = await sealBody(
    input.readings,
    input.readers,
    bodyAad(input.gatewayId, input.seq),
  );
  const header: BlockHeader = {
    gatewayId: input.gatewayId,
    seq: input.seq,
    prev: input.prev,
    bodyHash: bodyHash(body),
    root: merkleRoot(records.map((r) => leafHash(r.bytes))),
    count: n,
    sealedAt: input.sealedAt,
  };
  const signedHeader = await sign1(input.signer, encodeBlockHeader(header));
  const block = { signedHeader, body };
  return { header, block, bytes: encodeBlock(block), hash: internalHash(signedHeader), records };
}
