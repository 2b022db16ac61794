/**
 * SHA-256 with one-byte domain separation: every hash medchain defines is
 * SHA-256(tag || bytes), so bytes hashed as one structure can never be passed
 * off as another (the reason RFC 9162 §2.1.1 prefixes leaves 0x00, nodes 0x01).
 *
 * Implementation: node:crypto (OpenSSL). bench/hash.ts on Node 20 measured
 * @noble/hashes level with createHash at 32 B, 3-4x slower at 256 B-1 KiB and
 * ~11x slower from 16 KiB up (OpenSSL uses SHA-NI). The one-shot crypto.hash
 * (Node >= 20.12) skips the Hash object and is ~1.5x createHash for inputs up
 * to a few KiB, which is every Merkle node (65 B) and leaf: so small inputs are
 * concatenated and hashed in one shot, large ones are streamed to avoid a copy.
 */
import * as nodeCrypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { abytes, CoreInputError } from './bytes.js';

export const HASH_BYTES = 32;

/**
 * Domain tags. The values are part of the format (docs/FORMAT.md): never renumber.
 * Reading leaves have no tag of their own: they are RFC 9162 leaves (MerkleLeaf).
 */
export const Tag = {
  /** RFC 9162 §2.1.1 leaf: SHA-256(0x00 || leaf data). */
  MerkleLeaf: 0x00,
  /** RFC 9162 §2.1.1 interior node: SHA-256(0x01 || left || right). */
  MerkleNode: 0x01,
  /** Hash of an internal block's encrypted body bytes. */
  BlockBody: 0x10,
  /** h(n): hash of the whole signed internal block (COSE_Sign1 bytes as transmitted). */
  InternalBlock: 0x11,
  /** H(n): hash of the notary's chain entry n. */
  Entry: 0x20,
  /** Hash of a checkpoint (signed tree head of the notary log). */
  Checkpoint: 0x21,
} as const;
export type Tag = (typeof Tag)[keyof typeof Tag];

const TAG_VALUES: ReadonlySet<number> = new Set(Object.values(Tag));

/** crypto.hash arrived in Node 20.12; on an older 20.x fall back to createHash (same bytes, slower). */
const oneShot: (b: Uint8Array) => Buffer =
  typeof nodeCrypto.hash === 'function'
    ? (b) => nodeCrypto.hash('sha256', b, 'buffer')
    : (b) => createHash('sha256').update(b).digest();

/** Below this total size, copying into one buffer costs less than a streaming Hash object. */
const ONE_SHOT_MAX = 16 * 1024;

/** Plain SHA-256 (FIPS 180-4), no tag: the empty Merkle tree root and ES256 digests. */
export function sha256(bytes: Uint8Array): Uint8Array {
  abytes('bytes', bytes);
  return view(oneShot(bytes));
}

/** SHA-256 without the input assert, for hot loops that built their own input (merkleRoot). */
export function sha256Raw(bytes: Uint8Array): Uint8Array {
  return oneShot(bytes);
}

/**
 * SHA-256(tag || parts[0] || parts[1] || ...). Parts are concatenated, not
 * length-prefixed: callers pass fixed-size or self-delimiting (CBOR) parts only.
 */
export function taggedHash(tag: Tag, ...parts: Uint8Array[]): Uint8Array {
  if (!TAG_VALUES.has(tag)) throw new CoreInputError(`tag: unknown domain tag ${String(tag)}`);
  let total = 1;
  for (let i = 0; i < parts.length; i++) total += abytes(`parts[${i}]`, parts[i]).length;
  if (total > ONE_SHOT_MAX) {
    const h = createHash('sha256').update(Uint8Array.of(tag));
    for (const p of parts) h.update(p);
    return view(h.digest());
  }
  const buf = new Uint8Array(total);
  buf[0] = tag;
  let off = 1;
  for (const p of parts) {
    buf.set(p, off);
    off += p.length;
  }
  return view(oneShot(buf));
}

/** A plain Uint8Array view, so results compare equal (t.same, deepEqual) whatever path made them. */
function view(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
