import { timingSafeEqual } from 'node:crypto';
import { MedchainError } from '../errors/medchain-error.js';

/** Stable code for a caller passing a malformed argument to a core function. */
export const BAD_INPUT = 'CORE_BAD_INPUT';

/** A programming error at a core boundary: the caller passed the wrong shape. */
export class CoreInputError extends MedchainError {
  declare readonly code: typeof BAD_INPUT;
  constructor(message: string) {
    super(BAD_INPUT, message);
  }
}

/** Asserts `value` is a Uint8Array (of exactly `length` bytes when given), naming the parameter. */
export function abytes(name: string, value: unknown, length?: number): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new CoreInputError(`${name}: expected a Uint8Array, got ${describe(value)}`);
  }
  if (length !== undefined && value.length !== length) {
    throw new CoreInputError(`${name}: expected ${length} bytes, got ${value.length}`);
  }
  return value;
}

/** Asserts `value` is a safe non-negative integer (tree sizes and indices are uint64 in the RFCs; 2^53 is ample). */
export function auint(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new CoreInputError(
      `${name}: expected a non-negative safe integer, got ${describe(value)}`,
    );
  }
  return value;
}

/** Constant-time when lengths match: comparing hashes an attacker chose must not leak a prefix. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Strict hex decoding: Buffer.from(s, 'hex') silently stops at the first bad pair, this does not. */
export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new CoreInputError(`fromHex: not an even-length hex string (${s.length} chars)`);
  }
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return `${typeof v} ${String(v).slice(0, 40)}`;
}
