/**
 * Reading fixed-order CBOR arrays (the structures medchain hashes and signs) into
 * typed fields. Each reader throws FieldError naming the field; decoders catch it
 * once and return a typed failure, so hostile bytes never escape as a TypeError.
 */
import { DetCborError, type DetValue, decodeDet } from './det-cbor.js';

export class FieldError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

export type StructFailure = {
  readonly ok: false;
  readonly check: 'cbor' | 'structure';
  readonly field?: string;
  readonly detail: string;
};

export type StructResult<T> = { readonly ok: true; readonly value: T } | StructFailure;

/** Decodes `bytes` as one deterministic CBOR array of exactly `length` items and maps it. */
export function decodeStruct<T>(
  bytes: Uint8Array,
  what: string,
  length: number | readonly number[],
  map: (items: readonly DetValue[]) => T,
  maxBytes = 1 << 20,
): StructResult<T> {
  if (!(bytes instanceof Uint8Array))
    return { ok: false, check: 'cbor', detail: `${what}: not bytes` };
  if (bytes.length > maxBytes) {
    return {
      ok: false,
      check: 'cbor',
      detail: `${what}: ${bytes.length} bytes, at most ${maxBytes}`,
    };
  }
  let v: DetValue;
  try {
    v = decodeDet(bytes, { maxDepth: 4 });
  } catch (err) {
    const detail = err instanceof DetCborError ? err.message : String(err);
    return { ok: false, check: 'cbor', detail: `${what}: ${detail}` };
  }
  const lengths: readonly number[] = typeof length === 'number' ? [length] : length;
  if (!Array.isArray(v) || !lengths.includes(v.length)) {
    return {
      ok: false,
      check: 'structure',
      detail: `${what}: expected an array of ${lengths.join(' or ')} items`,
    };
  }
  try {
    return { ok: true, value: map(v as readonly DetValue[]) };
  } catch (err) {
    if (err instanceof FieldError) {
      return { ok: false, check: 'structure', field: err.field, detail: `${what}.${err.message}` };
    }
    throw err;
  }
}

export function uintField(v: DetValue | undefined, field: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new FieldError(field, `expected an integer >= ${min}`);
  }
  return v;
}

export function bytesField(v: DetValue | undefined, field: string, length?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new FieldError(field, 'expected a byte string');
  if (length !== undefined && v.length !== length) {
    throw new FieldError(field, `expected ${length} bytes, got ${v.length}`);
  }
  return v;
}

export function textField(v: DetValue | undefined, field: string, maxLength = 128): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLength) {
    throw new FieldError(field, `expected text of 1 to ${maxLength} characters`);
  }
  return v;
}

export function constField(v: DetValue | undefined, field: string, expected: number): number {
  if (v !== expected) throw new FieldError(field, `expected ${expected}`);
  return expected;
}

/** Participant ids (gateway, notary, device): safe in MQTT topics, URNs and file names. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function idField(v: DetValue | undefined, field: string): string {
  if (typeof v !== 'string' || !ID_PATTERN.test(v)) {
    throw new FieldError(field, 'expected an id of 1-64 characters from A-Z a-z 0-9 . _ -');
  }
  return v;
}
