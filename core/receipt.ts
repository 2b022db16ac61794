/**
 * Receipts and checkpoints: the two statements a notary signs (COSE_Sign1, medchain
 * profile, ES256, kid = the notary's certificate id).
 *
 *   receipt payload    = [1, notaryId, entry bytes, logRoot(32)]
 *   checkpoint payload = [2, notaryId, size, head H(size) (32), logRoot(32), time ms]
 *
 * logRoot is the RFC 9162 root over H(1..height) (for a receipt) or H(1..size): every
 * receipt is also a signed tree head, so a gateway can later ask for a consistency
 * proof from the tree its receipt named to any later checkpoint. The first items
 * (1 and 2) differ so a receipt can never be taken for a checkpoint or back.
 */
import type { KeyObject } from 'node:crypto';
import { sign1 } from './cose.js';
import { verifySign1 } from './cose-verify.js';
import { encodeDet } from './det-cbor.js';
import {
  bytesField,
  constField,
  decodeStruct,
  FieldError,
  idField,
  type StructResult,
  uintField,
} from './det-fields.js';
import { decodeEntry, type Entry, entryHash } from './entry.js';
import { HASH_BYTES } from './hash.js';
import type { Signer } from './signer.js';

const RECEIPT_KIND = 1;
const CHECKPOINT_KIND = 2;

export interface Receipt {
  readonly notaryId: string;
  readonly entry: Entry;
  /** The entry's bytes as signed; H(n) is computed over these. */
  readonly entryBytes: Uint8Array;
  /** H(n). */
  readonly entryHash: Uint8Array;
  readonly logRoot: Uint8Array;
}

export interface Checkpoint {
  readonly notaryId: string;
  readonly size: number;
  readonly head: Uint8Array;
  readonly logRoot: Uint8Array;
  readonly time: number;
}

export function signReceipt(
  signer: Signer,
  notaryId: string,
  entryBytes: Uint8Array,
  logRoot: Uint8Array,
): Promise<Uint8Array> {
  return sign1(signer, encodeDet([RECEIPT_KIND, notaryId, entryBytes, logRoot]));
}

export function signCheckpoint(signer: Signer, c: Checkpoint): Promise<Uint8Array> {
  return sign1(signer, encodeDet([CHECKPOINT_KIND, c.notaryId, c.size, c.head, c.logRoot, c.time]));
}

export function decodeReceiptPayload(payload: Uint8Array): StructResult<Receipt> {
  return decodeStruct(payload, 'receipt', 4, (f) => {
    constField(f[0], 'kind', RECEIPT_KIND);
    const entryBytes = bytesField(f[2], 'entry');
    const e = decodeEntry(entryBytes);
    if (!e.ok) throw new FieldError('entry', e.detail);
    return {
      notaryId: idField(f[1], 'notaryId'),
      entry: e.value,
      entryBytes,
      entryHash: entryHash(entryBytes),
      logRoot: bytesField(f[3], 'logRoot', HASH_BYTES),
    };
  });
}

export function decodeCheckpointPayload(payload: Uint8Array): StructResult<Checkpoint> {
  return decodeStruct(payload, 'checkpoint', 6, (f) => {
    constField(f[0], 'kind', CHECKPOINT_KIND);
    return {
      notaryId: idField(f[1], 'notaryId'),
      size: uintField(f[2], 'size'),
      head: bytesField(f[3], 'head', HASH_BYTES),
      logRoot: bytesField(f[4], 'logRoot', HASH_BYTES),
      time: uintField(f[5], 'time'),
    };
  });
}

export type SignedStatementResult<T> =
  | { readonly ok: true; readonly value: T; readonly kid: Uint8Array | undefined }
  | { readonly ok: false; readonly check: 'signature' | 'payload'; readonly detail: string };

function verifyStatement<T>(
  bytes: Uint8Array,
  key: KeyObject | Uint8Array,
  kid: Uint8Array | undefined,
  decode: (payload: Uint8Array) => StructResult<T>,
): SignedStatementResult<T> {
  const sig = verifySign1(bytes, key, kid ? { expectedKid: kid } : {});
  if (!sig.ok) return { ok: false, check: 'signature', detail: `${sig.check}: ${sig.detail}` };
  const d = decode(sig.msg.payload);
  if (!d.ok) return { ok: false, check: 'payload', detail: d.detail };
  return { ok: true, value: d.value, kid: sig.msg.kid };
}

export function verifyReceipt(
  bytes: Uint8Array,
  notaryKey: KeyObject | Uint8Array,
  kid?: Uint8Array,
): SignedStatementResult<Receipt> {
  return verifyStatement(bytes, notaryKey, kid, decodeReceiptPayload);
}

export function verifyCheckpoint(
  bytes: Uint8Array,
  notaryKey: KeyObject | Uint8Array,
  kid?: Uint8Array,
): SignedStatementResult<Checkpoint> {
  return verifyStatement(bytes, notaryKey, kid, decodeCheckpointPayload);
}
