import {
  type BlockHeader,
  bodyAad,
  bodyHash,
  decodeBlockHeader,
  internalHash,
} from '../core/block.js';
import { BodyCode, BodyError, openBody, type ReaderKey, type SaltedRecord } from '../core/body.js';
import { equalBytes, toHex } from '../core/bytes.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { decodeEntry, type Entry } from '../core/entry.js';
import { leafHash, merkleRoot } from '../core/merkle.js';
import { decodeReading } from '../core/reading-decode.js';
import { FhirCode, FhirError } from './errors.js';
import type { SealedReading } from './observation.js';

/**
 * A reader's pass over the blocks of a chain export: check each block against the
 * header it is registered with, open its body with the reader's key, decode its readings.
 * Pure apart from the reader key's ECDH (which may run on a token).
 *
 * Before anything is decrypted, the entry must register this signed header (internal
 * hash) and the body must hash to the header's bodyHash; after, the records must be
 * the header's count and Merkle root. A failure there is tampering and stops the
 * export. Signatures are not checked here: the caller verifies the whole export
 * against Trent's root first (verifyExport) when it has the root.
 */

/** One export entry, as broker/export.ts reads it. */
export interface ChainBlock {
  readonly height: number;
  readonly entry: Uint8Array;
  readonly signedHeader: Uint8Array;
  /** Encrypted body; empty when erased. */
  readonly body: Uint8Array;
  readonly erased: boolean;
  /** The notary's receipt for the block, when the export holds it. */
  readonly receipt?: Uint8Array | undefined;
}

/** A block this reader opened: its readings in leaf order, and what proves them. */
export interface OpenedBlock {
  readonly notaryId: string;
  readonly height: number;
  readonly entry: Entry;
  readonly header: BlockHeader;
  readonly signedHeader: Uint8Array;
  readonly receipt: Uint8Array | undefined;
  /** Salted records exactly as sealed: leaf i of the block's Merkle tree is records[i].bytes. */
  readonly records: readonly SaltedRecord[];
  readonly readings: readonly SealedReading[];
}

export interface ExportStats {
  /** Blocks seen. */
  blocks: number;
  /** Blocks whose body this reader opened. */
  read: number;
  /** Blocks whose body was erased: nothing to read, counted. */
  erased: number;
  /** Blocks this reader could not open, by reason (BODY_NOT_A_READER: not a recipient). */
  unreadable: Partial<Record<BodyCode, number>>;
  /** Readings decoded. */
  readings: number;
}

// Readings in a body were accepted by a gateway whose count limits may be raised from the
// defaults; the body is authenticated, so only the format is re-checked here.
const OPEN_LIMITS = {
  maxPayloadBytes: Number.MAX_SAFE_INTEGER,
  maxObservations: Number.MAX_SAFE_INTEGER,
  maxSamples: Number.MAX_SAFE_INTEGER,
};

export class ReaderExport {
  readonly #reader: ReaderKey;
  readonly #notaryId: string;
  readonly stats: ExportStats = {
    blocks: 0,
    read: 0,
    erased: 0,
    unreadable: {},
    readings: 0,
  };

  constructor(reader: ReaderKey, notaryId: string) {
    this.#reader = reader;
    this.#notaryId = notaryId;
  }

  /** The block opened; undefined if erased or not readable by this reader. */
  async block(b: ChainBlock): Promise<OpenedBlock | undefined> {
    this.stats.blocks += 1;
    const { entry, header } = registeredHeader(b);
    if (b.erased || b.body.length === 0) {
      this.stats.erased += 1;
      return undefined;
    }
    const actual = bodyHash(b.body);
    if (!equalBytes(actual, header.bodyHash)) {
      throw new FhirError(
        FhirCode.BodyHash,
        `block at height ${b.height}: the body hashes to ${toHex(actual)}, the signed header says ${toHex(header.bodyHash)} (tampered)`,
        { height: b.height },
      );
    }
    let records: Awaited<ReturnType<typeof openBody>>;
    try {
      records = await openBody(b.body, this.#reader, bodyAad(header.gatewayId, header.seq));
    } catch (err) {
      if (!(err instanceof BodyError)) throw err;
      this.stats.unreadable[err.code] = (this.stats.unreadable[err.code] ?? 0) + 1;
      return undefined;
    }
    const root = merkleRoot(records.map((r) => leafHash(r.bytes)));
    if (records.length !== header.count || !equalBytes(root, header.root)) {
      throw new FhirError(
        FhirCode.BodyMismatch,
        `block at height ${b.height}: ${records.length} records with root ${toHex(root)}, the signed header says ${header.count} with root ${toHex(header.root)}`,
        { height: b.height },
      );
    }
    this.stats.read += 1;
    const readings = records.map((rec, i): SealedReading => {
      const d = decodeReading(rec.reading, { format: 'cbor', limits: OPEN_LIMITS });
      if (!d.ok) {
        throw new FhirError(
          FhirCode.BadReading,
          `block at height ${b.height}, record ${i}: ${d.error.code}: ${d.error.message}`,
          { height: b.height, cause: d.error },
        );
      }
      return {
        reading: d.value.reading,
        receivedAt: rec.receivedAt,
        notaryId: this.#notaryId,
        height: b.height,
      };
    });
    this.stats.readings += readings.length;
    return {
      notaryId: this.#notaryId,
      height: b.height,
      entry,
      header,
      signedHeader: b.signedHeader,
      receipt: b.receipt,
      records,
      readings,
    };
  }

  /** Throws when there were bodies to read and this key opened none of them. */
  finish(): ExportStats {
    const withBody = this.stats.blocks - this.stats.erased;
    if (withBody > 0 && this.stats.read === 0) {
      const why = Object.entries(this.stats.unreadable)
        .map(([code, n]) => `${n} ${UNREADABLE[code as BodyCode]} (${code})`)
        .join(', ');
      throw new FhirError(
        FhirCode.NothingReadable,
        `none of the ${withBody} block bodies could be decrypted with reader '${this.#reader.kid}': ${why}; ${this.stats.erased} erased`,
      );
    }
    return this.stats;
  }
}

const UNREADABLE: Record<BodyCode, string> = {
  [BodyCode.NotAReader]: 'not addressed to this reader id',
  [BodyCode.UnwrapFailed]:
    'addressed to this reader id, but this key does not open them (wrong key?)',
  [BodyCode.DecryptFailed]: 'failed authentication after the key unwrapped',
  [BodyCode.Malformed]: "not encrypted reading bodies (a regional notary's checkpoint anchors?)",
  [BodyCode.BadInput]: 'refused',
};

/** The header the chain entry registers, decoded; the export's own consistency first. */
function registeredHeader(b: ChainBlock): { entry: Entry; header: BlockHeader } {
  const bad = (why: string) =>
    new FhirError(FhirCode.BadExport, `block at height ${b.height}: ${why}`, { height: b.height });
  const e = decodeEntry(b.entry);
  if (!e.ok) throw bad(`entry: ${e.detail}`);
  if (e.value.height !== b.height) throw bad(`the entry names height ${e.value.height}`);
  if (!equalBytes(e.value.internal, internalHash(b.signedHeader))) {
    throw bad('the entry does not register this signed header');
  }
  const m = decodeSign1(b.signedHeader);
  if (!m.ok) throw bad(`signed header: ${m.check}: ${m.detail}`);
  const h = decodeBlockHeader(m.msg.payload);
  if (!h.ok) throw bad(`block header: ${h.detail}`);
  if (h.value.gatewayId !== e.value.submitter) {
    throw bad(`the header names gateway '${h.value.gatewayId}', the entry '${e.value.submitter}'`);
  }
  return { entry: e.value, header: h.value };
}
