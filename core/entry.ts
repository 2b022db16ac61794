/**
 * Notary chain entries (DESIGN §2):
 *
 *   entry n = [1, height n, prev H(n-1) (32), internal h(n) (32), submitter id, registeredAt ms]
 *   H(n)    = SHA-256(0x20 || entry bytes)
 *
 * H(0) is 32 zero bytes. The notary's Merkle log has H(1..n) as its leaf data.
 */
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

export const ENTRY_VERSION = 1;

export interface Entry {
  readonly height: number;
  readonly prev: Uint8Array;
  readonly internal: Uint8Array;
  /** The gateway (or, at the regional level, the institution notary) that submitted the block. */
  readonly submitter: string;
  readonly registeredAt: number;
}

export function encodeEntry(e: Entry): Uint8Array {
  return encodeDet([ENTRY_VERSION, e.height, e.prev, e.internal, e.submitter, e.registeredAt]);
}

export function decodeEntry(bytes: Uint8Array): StructResult<Entry> {
  return decodeStruct(bytes, 'entry', 6, (f) => {
    constField(f[0], 'version', ENTRY_VERSION);
    return {
      height: uintField(f[1], 'height', 1),
      prev: bytesField(f[2], 'prev', HASH_BYTES),
      internal: bytesField(f[3], 'internal', HASH_BYTES),
      submitter: idField(f[4], 'submitter'),
      registeredAt: uintField(f[5], 'registeredAt'),
    };
  });
}

/** H(n), over the entry bytes as transmitted. */
export function entryHash(entryBytes: Uint8Array): Uint8Array {
  return taggedHash(Tag.Entry, entryBytes);
}
