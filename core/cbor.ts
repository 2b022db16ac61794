/**
 * The one CBOR configuration of core/, over cbor-x. Encoding is deterministic
 * (RFC 8949 §4.2.1): definite lengths, minimal integer heads, map keys sorted
 * by the bytes of their encoding. Decoding never throws: hostile bytes give a
 * reason, and a value only counts as decoded if re-encoding it deterministically
 * gives back exactly the input, which rejects duplicate map keys, unsorted keys,
 * non-minimal heads, indefinite lengths, invalid UTF-8 and tags we do not know.
 */
import { Decoder, Encoder, Tag } from 'cbor-x';
import { CoreInputError, equalBytes } from './bytes.js';

// tagUint8Array: false, or cbor-x wraps every non-Buffer Uint8Array in tag 64.
const encoder = new Encoder({
  mapsAsObjects: false,
  useRecords: false,
  tagUint8Array: false,
  variableMapSize: true,
});
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false });

/**
 * Deterministic CBOR of `value`: Maps get their keys sorted, Uint8Arrays become
 * byte strings, integers always use an integer head. Throws CoreInputError for
 * a number that is not a safe integer: the formats have no floats (DESIGN §4).
 */
export function encodeCbor(value: unknown): Uint8Array {
  const b = encoder.encode(sortMaps(value));
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function sortMaps(v: unknown): unknown {
  if (v instanceof Map) {
    const entries = [...v.entries()].map(([k, val]) => ({
      key: Buffer.from(encoder.encode(sortMaps(k))),
      k: sortMaps(k),
      val: sortMaps(val),
    }));
    entries.sort((a, b) => Buffer.compare(a.key, b.key));
    return new Map(entries.map((e) => [e.k, e.val]));
  }
  if (Array.isArray(v)) return v.map(sortMaps);
  if (v instanceof Uint8Array) return v;
  if (v instanceof Tag) return new Tag(sortMaps(v.value), v.tag);
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) {
      throw new CoreInputError(`CBOR: ${v} is not a safe integer; the formats carry no floats`);
    }
    // cbor-x writes integers beyond 32 bits as float64 (e.g. a millisecond
    // timestamp); as a BigInt it writes the 8-byte integer head (major type 0/1).
    if (v > 0xffffffff || v < -0x100000000) return BigInt(v);
    return v === 0 ? 0 : v; // -0 would be written as a float
  }
  return v;
}

export type DecodeCborResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly check: 'cbor' | 'non-canonical'; readonly detail: string };

/** Decodes one deterministic CBOR item filling all of `bytes`; never throws. */
export function decodeCbor(bytes: Uint8Array): DecodeCborResult {
  let value: unknown;
  try {
    value = decoder.decode(bytes);
  } catch (err) {
    // cbor-x throws Error, RangeError (deep nesting) and even TypeError on some tags.
    return { ok: false, check: 'cbor', detail: `not well-formed CBOR: ${(err as Error)?.message}` };
  }
  let again: Uint8Array;
  try {
    again = encodeCbor(value);
  } catch (err) {
    return {
      ok: false,
      check: 'non-canonical',
      detail: `cannot re-encode: ${(err as Error)?.message}`,
    };
  }
  if (!equalBytes(again, bytes)) {
    return {
      ok: false,
      check: 'non-canonical',
      detail: 'not in deterministic encoding (RFC 8949 §4.2.1)',
    };
  }
  return { ok: true, value: saferInts(value) };
}

/** cbor-x yields a BigInt for every 8-byte integer head; within 2^53 a number is what callers expect. */
function saferInts(v: unknown): unknown {
  if (typeof v === 'bigint') {
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(v)
      : v;
  }
  if (Array.isArray(v)) return v.map(saferInts);
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [saferInts(k), saferInts(x)]));
  if (v instanceof Tag) return new Tag(saferInts(v.value), v.tag);
  return v;
}
