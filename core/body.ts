import { createCipheriv, randomBytes } from 'node:crypto';
import { Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, HkdfSha256 } from '@hpke/core';
import { MedchainError } from '../errors/medchain-error.js';
import { concatBytes, type DetValue, decodeDet, encodeDet, encodeHead } from './det-cbor.js';
import { AEAD_AES256GCM, aesGcmOpen, type HpkeRecipient, openBase } from './hpke.js';

/**
 * The encrypted block body (DESIGN §2 "seal"): readings, each with a fresh 16-byte salt
 * and the gateway receive time, encrypted once under a fresh AES-256-GCM content key; the
 * content key is HPKE-wrapped (RFC 9180 base mode, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256,
 * AES-256-GCM) for each reader. Layout: docs/FORMAT-readings-body.md §Encrypted body.
 *
 *   record    = [salt: bstr(16), receivedAt: uint ms, reading: bstr(canonical reading)]
 *   plaintext = [record, ...]
 *   body      = [1, nonce: bstr(12), ciphertext: bstr(ct || tag16), [[kid: tstr, enc: bstr(65), wrapped: bstr(48)], ...]]
 *
 * An HSM-held reader key: `{ kid, publicKey: point, deriveSharedSecret: (enc) =>
 * token.deriveSharedSecret(label, enc) }` — Token.deriveSharedSecret returns raw Z, which
 * is exactly what DHKEM Decap needs (hpke.ts); the private key never leaves the token.
 */

export const BODY_VERSION = 1;
/** HPKE info = this string, one 0x00 byte, then the reader kid in UTF-8. */
export const BODY_KEY_INFO = 'medchain/v1 block body content key';
export const SALT_BYTES = 16;
const NONCE_BYTES = 12;
const KEY_BYTES = 32;

export const BodyCode = {
  BadInput: 'BODY_BAD_INPUT',
  Malformed: 'BODY_MALFORMED',
  NotAReader: 'BODY_NOT_A_READER',
  UnwrapFailed: 'BODY_KEY_UNWRAP_FAILED',
  DecryptFailed: 'BODY_DECRYPT_FAILED',
} as const;
export type BodyCode = (typeof BodyCode)[keyof typeof BodyCode];

export class BodyError extends MedchainError {
  declare readonly code: BodyCode;
  constructor(code: BodyCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export interface ReaderPublicKey {
  /** Reader key id, as in the reader's certificate; bound into the HPKE info. */
  readonly kid: string;
  /** Uncompressed P-256 point, 65 bytes. */
  readonly publicKey: Uint8Array;
}

export interface ReaderKey extends HpkeRecipient {
  readonly kid: string;
}

export interface ReadingToSeal {
  /** encodeReading() output (DecodedReading.canonical). */
  readonly reading: Uint8Array;
  /** Gateway receive time, ms since epoch. */
  readonly receivedAt: number;
}

export interface SaltedRecord {
  readonly salt: Uint8Array;
  readonly receivedAt: number;
  readonly reading: Uint8Array;
  /** The record's bytes exactly as inside the plaintext: the Merkle leaf data. */
  readonly bytes: Uint8Array;
}

export interface SealedBody {
  readonly body: Uint8Array;
  /** In plaintext order; leaf i of the block's Merkle tree is records[i].bytes. */
  readonly records: readonly SaltedRecord[];
}

const suite = new CipherSuite({
  kem: new DhkemP256HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
});

export function bodyKeyInfo(kid: string): Uint8Array {
  return concatBytes([
    new TextEncoder().encode(BODY_KEY_INFO),
    Uint8Array.of(0),
    new TextEncoder().encode(kid),
  ]);
}

function makeRecord(salt: Uint8Array, receivedAt: number, reading: Uint8Array): SaltedRecord {
  return { salt, receivedAt, reading, bytes: encodeDet([salt, receivedAt, reading]) };
}

/** Encrypts readings for each reader. `aad` binds the body to its block header fields. */
export async function sealBody(
  readings: readonly ReadingToSeal[],
  readers: readonly ReaderPublicKey[],
  aad: Uint8Array,
): Promise<SealedBody> {
  if (readers.length === 0)
    throw new BodyError(BodyCode.BadInput, 'readers: at least one reader is required');
  if (new Set(readers.map((r) => r.kid)).size !== readers.length) {
    throw new BodyError(BodyCode.BadInput, 'readers: duplicate kid');
  }
  for (const r of readings) {
    if (!Number.isSafeInteger(r.receivedAt) || r.receivedAt < 0) {
      throw new BodyError(
        BodyCode.BadInput,
        'receivedAt: expected non-negative integer milliseconds',
      );
    }
  }
  const records = readings.map((r) => makeRecord(randomBytes(SALT_BYTES), r.receivedAt, r.reading));
  const plaintext = concatBytes([encodeHead(4, records.length), ...records.map((r) => r.bytes)]);
  const contentKey = randomBytes(KEY_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  try {
    const c = createCipheriv('aes-256-gcm', contentKey, nonce);
    c.setAAD(aad);
    const ct = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
    const wrapped: DetValue[] = [];
    for (const r of readers) {
      let pk: Awaited<ReturnType<typeof suite.kem.deserializePublicKey>>;
      try {
        pk = await suite.kem.deserializePublicKey(r.publicKey);
      } catch (err) {
        throw new BodyError(BodyCode.BadInput, `reader '${r.kid}': not a P-256 public key`, {
          cause: err,
        });
      }
      const sealed = await suite.seal(
        { recipientPublicKey: pk, info: bodyKeyInfo(r.kid) },
        contentKey,
        aad,
      );
      wrapped.push([r.kid, new Uint8Array(sealed.enc), new Uint8Array(sealed.ct)]);
    }
    return {
      body: encodeDet([BODY_VERSION, Uint8Array.from(nonce), Uint8Array.from(ct), wrapped]),
      records,
    };
  } finally {
    contentKey.fill(0);
  }
}

interface ParsedBody {
  nonce: Uint8Array;
  ct: Uint8Array;
  recipients: Array<{ kid: string; enc: Uint8Array; wrapped: Uint8Array }>;
}

function parseBody(bytes: Uint8Array): ParsedBody {
  let v: DetValue;
  try {
    v = decodeDet(bytes, { maxDepth: 3 });
  } catch (err) {
    throw new BodyError(
      BodyCode.Malformed,
      `body is not deterministic CBOR: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const bad = (what: string) => new BodyError(BodyCode.Malformed, `body: ${what}`);
  if (!Array.isArray(v) || v.length !== 4) throw bad('expected a 4-element array');
  const [version, nonce, ct, list] = v;
  if (version !== BODY_VERSION) throw bad(`unsupported version ${String(version)}`);
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES)
    throw bad('nonce must be 12 bytes');
  if (!(ct instanceof Uint8Array) || ct.length < 16) throw bad('ciphertext shorter than its tag');
  if (!Array.isArray(list)) throw bad('recipients must be an array');
  const recipients = list.map((e) => {
    if (!Array.isArray(e) || e.length !== 3) throw bad('recipient must be [kid, enc, wrappedKey]');
    const [kid, enc, wrapped] = e;
    if (
      typeof kid !== 'string' ||
      !(enc instanceof Uint8Array) ||
      !(wrapped instanceof Uint8Array)
    ) {
      throw bad('recipient fields have the wrong types');
    }
    return { kid, enc, wrapped };
  });
  return { nonce, ct, recipients };
}

function parsePlaintext(pt: Uint8Array): SaltedRecord[] {
  const v = decodeDet(pt, { maxDepth: 2 });
  if (!Array.isArray(v)) throw new TypeError('plaintext is not an array');
  return v.map((rec) => {
    if (!Array.isArray(rec) || rec.length !== 3) throw new TypeError('record is not a 3-array');
    const [salt, receivedAt, reading] = rec;
    if (!(salt instanceof Uint8Array) || salt.length !== SALT_BYTES)
      throw new TypeError('bad salt');
    if (typeof receivedAt !== 'number' || receivedAt < 0) throw new TypeError('bad receivedAt');
    if (!(reading instanceof Uint8Array)) throw new TypeError('bad reading');
    return makeRecord(salt, receivedAt, reading);
  });
}

/**
 * Decrypts a body for one reader. The records come back as sealed; decode each reading
 * with decodeReading(record.reading, { format: 'cbor' }) if its values are needed.
 */
export async function openBody(
  bodyBytes: Uint8Array,
  reader: ReaderKey,
  aad: Uint8Array,
): Promise<SaltedRecord[]> {
  const body = parseBody(bodyBytes);
  const entry = body.recipients.find((r) => r.kid === reader.kid);
  if (entry === undefined) {
    throw new BodyError(
      BodyCode.NotAReader,
      `reader '${reader.kid}' is not a recipient of this body`,
    );
  }
  let contentKey: Uint8Array;
  try {
    contentKey = await openBase({
      recipient: reader,
      enc: entry.enc,
      info: bodyKeyInfo(reader.kid),
      aad,
      ct: entry.wrapped,
      aeadId: AEAD_AES256GCM,
    });
  } catch (err) {
    throw new BodyError(
      BodyCode.UnwrapFailed,
      `reader '${reader.kid}': the content key did not unwrap (wrong reader key, wrong AAD or a tampered body)`,
      { cause: err },
    );
  }
  try {
    if (contentKey.length !== KEY_BYTES)
      throw new BodyError(BodyCode.Malformed, 'wrapped key is not 32 bytes');
    let pt: Uint8Array;
    try {
      pt = aesGcmOpen(contentKey, body.nonce, aad, body.ct);
    } catch (err) {
      throw new BodyError(
        BodyCode.DecryptFailed,
        'body ciphertext failed authentication (tampered or wrong AAD)',
        {
          cause: err,
        },
      );
    }
    try {
      return parsePlaintext(pt);
    } catch (err) {
      throw new BodyError(
        BodyCode.Malformed,
        `decrypted body is malformed: ${(err as Error).message}`,
        { cause: err },
      );
    }
  } finally {
    contentKey.fill(0);
  }
}
