/**
 * The deterministic CBOR profile used for readings and bodies (DESIGN §4): unsigned and
 * negative integers, byte strings, text strings and arrays only; no maps, floats, tags,
 * simple values or indefinite lengths; every head in preferred (shortest) form, as
 * RFC 8949 §4.2.1 "core deterministic encoding" requires.
 *
 * Why not cbor-x here: cbor-x encodes integers beyond 32 bits (2^32 → fb41f0…) as
 * float64, and a device time in milliseconds is beyond 32 bits. The decoder is also the
 * hostile-input guard: every declared length is checked against the bytes that remain
 * before anything is allocated, so no payload can claim a 2^64-element array.
 */

export type DetValue = number | bigint | string | Uint8Array | readonly DetValue[];

export class DetCborError extends Error {
  /** 'malformed': not well-formed or not deterministic; 'forbidden': a type outside the profile. */
  readonly kind: 'malformed' | 'forbidden';
  constructor(kind: 'malformed' | 'forbidden', message: string) {
    super(message);
    this.kind = kind;
  }
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Encodes a CBOR head (RFC 8949 §3) in its shortest form. */
export function encodeHead(major: number, arg: number | bigint): Uint8Array {
  const n = BigInt(arg);
  const m = major << 5;
  if (n < 24n) return Uint8Array.of(m | Number(n));
  if (n < 0x100n) return Uint8Array.of(m | 24, Number(n));
  if (n < 0x10000n) return Uint8Array.of(m | 25, Number(n >> 8n), Number(n & 0xffn));
  const len = n < 0x100000000n ? 4 : 8;
  const out = new Uint8Array(1 + len);
  out[0] = m | (len === 4 ? 26 : 27);
  for (let i = 0; i < len; i++) out[len - i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
}

function encodeInto(v: DetValue, parts: Uint8Array[]): void {
  if (typeof v === 'number' || typeof v === 'bigint') {
    if (typeof v === 'number' && !Number.isSafeInteger(v)) {
      throw new TypeError(`det-cbor: ${v} is not a safe integer; floats are outside the profile`);
    }
    const n = BigInt(v);
    if (n >= 0n) parts.push(encodeHead(0, n));
    else parts.push(encodeHead(1, -1n - n));
  } else if (typeof v === 'string') {
    const b = utf8.encode(v);
    parts.push(encodeHead(3, b.length), b);
  } else if (v instanceof Uint8Array) {
    parts.push(encodeHead(2, v.length), v);
  } else {
    parts.push(encodeHead(4, v.length));
    for (const item of v) encodeInto(item, parts);
  }
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Deterministic encoding of `v`; same value → same bytes, always. */
export function encodeDet(v: DetValue): Uint8Array {
  const parts: Uint8Array[] = [];
  encodeInto(v, parts);
  return concatBytes(parts);
}

export interface DecodeDetOptions {
  /** Deepest array nesting accepted; the top item is depth 1. */
  maxDepth: number;
}

/**
 * Decodes exactly one item in the profile, refusing trailing bytes. Integers beyond
 * Number.MAX_SAFE_INTEGER come back as bigint so the caller's schema rejects them by type.
 * Byte strings are copies, so the caller never aliases the input buffer.
 */
export function decodeDet(bytes: Uint8Array, opts: DecodeDetOptions): DetValue {
  let pos = 0;
  const fail = (msg: string): never => {
    throw new DetCborError('malformed', `${msg} at byte ${pos}`);
  };
  const readArg = (ai: number): bigint => {
    if (ai < 24) return BigInt(ai);
    const len = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
    if (len === 0) {
      return fail(
        ai === 31 ? 'indefinite length is not deterministic' : 'reserved additional info',
      );
    }
    if (pos + len > bytes.length) fail('truncated head');
    let n = 0n;
    for (let i = 0; i < len; i++) n = (n << 8n) | BigInt(bytes[pos + i]!);
    pos += len;
    // Preferred serialization: the argument must not fit a shorter head (RFC 8949 §4.2.1).
    const min = len === 1 ? 24n : len === 2 ? 0x100n : len === 4 ? 0x10000n : 0x100000000n;
    if (n < min) fail('integer or length not in shortest form');
    return n;
  };
  const item = (depth: number): DetValue => {
    if (pos >= bytes.length) fail('truncated item');
    const ib = bytes[pos++]!;
    const major = ib >> 5;
    const ai = ib & 0x1f;
    if (major >= 5) {
      const what = ['map', 'tag', 'float or simple value'][major - 5];
      throw new DetCborError('forbidden', `${what} at byte ${pos - 1} is outside the profile`);
    }
    const arg = readArg(ai);
    switch (major) {
      case 0:
        return arg <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(arg) : arg;
      case 1: {
        const n = -1n - arg;
        return n >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(n) : n;
      }
      case 2:
      case 3: {
        if (arg > BigInt(bytes.length - pos)) fail('string longer than the bytes that remain');
        const len = Number(arg);
        const slice = bytes.subarray(pos, pos + len);
        pos += len;
        if (major === 2) return Uint8Array.from(slice);
        try {
          return utf8Strict.decode(slice);
        } catch {
          return fail('text string is not valid UTF-8');
        }
      }
      default: {
        if (depth > opts.maxDepth) fail(`arrays nested deeper than ${opts.maxDepth}`);
        // Every element takes at least one byte: a count above what remains is a lie.
        if (arg > BigInt(bytes.length - pos)) fail('array longer than the bytes that remain');
        const n = Number(arg);
        const out: DetValue[] = [];
        for (let i = 0; i < n; i++) out.push(item(depth + 1));
        return out;
      }
    }
  };
  const v = item(1);
  if (pos !== bytes.length) fail('trailing bytes after the item');
  return v;
}
