/**
 * The chain as one self-contained file: a CBOR sequence (RFC 8742) of deterministic
 * CBOR arrays (core/det-cbor.ts), each starting with a text tag. Layout and meaning:
 * docs/FORMAT-export.md. The size is fixed when the export starts, at a size the notary
 * signed a checkpoint of; entries registered after it are left out, so a running
 * notary can be exported.
 */
import { open } from 'node:fs/promises';
import { concatBytes, type DetValue, decodeDet, encodeDet } from '../core/det-cbor.js';
import { signCheckpoint } from '../core/receipt.js';
import type { Signer } from '../core/signer.js';
import type { ChainStore } from './chain-store.js';
import { storedCrls } from './crl-log.js';
import { BrokerCode, BrokerError } from './errors.js';

export const EXPORT_MAGIC = 'medchain-export';
/** Version 2 adds `crl` items; readers accept version 1 files (which have none). */
export const EXPORT_VERSION = 2;
export const EXPORT_VERSIONS: readonly number[] = [1, 2];

export type ExportItem =
  | { kind: 'header'; version: number; notaryId: string; size: number; exportedAt: number }
  | { kind: 'root'; der: Uint8Array }
  | { kind: 'certificate'; der: Uint8Array }
  | { kind: 'crl'; der: Uint8Array }
  | {
      kind: 'entry';
      height: number;
      entry: Uint8Array;
      signedHeader: Uint8Array;
      body: Uint8Array;
      erased: { at: number; reason: string } | undefined;
      receipt: Uint8Array | undefined;
    }
  | { kind: 'checkpoint'; size: number; checkpoint: Uint8Array }
  | {
      kind: 'equivocation';
      gateway: string;
      seq: number;
      registered: Uint8Array;
      conflicting: Uint8Array;
    }
  | {
      kind: 'anchor';
      upstreamSeq: number;
      size: number;
      block: Uint8Array;
      receipt: Uint8Array | undefined;
    }
  | { kind: 'end'; size: number; head: Uint8Array; logRoot: Uint8Array };

const EMPTY = new Uint8Array(0);

export function encodeItem(i: ExportItem): Uint8Array {
  switch (i.kind) {
    case 'header':
      return encodeDet([EXPORT_MAGIC, i.version, i.notaryId, i.size, i.exportedAt]);
    case 'root':
    case 'certificate':
    case 'crl':
      return encodeDet([i.kind, i.der]);
    case 'entry':
      return encodeDet([
        'entry',
        i.height,
        i.entry,
        i.signedHeader,
        i.body,
        i.erased ? [i.erased.at, i.erased.reason] : [],
        i.receipt ?? EMPTY,
      ]);
    case 'checkpoint':
      return encodeDet(['checkpoint', i.size, i.checkpoint]);
    case 'equivocation':
      return encodeDet(['equivocation', i.gateway, i.seq, i.registered, i.conflicting]);
    case 'anchor':
      return encodeDet(['anchor', i.upstreamSeq, i.size, i.block, i.receipt ?? EMPTY]);
    case 'end':
      return encodeDet(['end', i.size, i.head, i.logRoot]);
  }
}

export interface WriteExportOptions {
  /** exportedAt (ms); default now. */
  readonly now?: number;
  /**
   * The notary's signer (its token key): when the latest checkpoint is older than the
   * chain, one is signed (and stored) at the current size so the export covers every
   * entry. Without it the export ends at the latest stored checkpoint.
   */
  readonly signer?: Signer;
}

/**
 * Writes the export of `store` to `path` and returns the number of entries. The export
 * ends at a size the notary signed a checkpoint of (docs/FORMAT-export.md §4.6): the
 * latest stored one, or a fresh one signed with `opts.signer`.
 */
export async function writeExport(
  store: ChainStore,
  path: string,
  opts: WriteExportOptions = {},
): Promise<number> {
  const now = opts.now ?? Date.now();
  const notaryId = await store.notaryId();
  if (!notaryId)
    throw new BrokerError(BrokerCode.Store, 'the chain database records no notary id yet');
  const root = await store.trustRoot();
  if (!root)
    throw new BrokerError(BrokerCode.Store, 'the chain database records no Trent root yet');
  const size = await exportSize(store, notaryId, now, opts.signer);
  const fh = await open(path, 'wx', 0o644);
  try {
    const buf: Uint8Array[] = [];
    let pending = 0;
    const put = async (i: ExportItem) => {
      const b = encodeItem(i);
      buf.push(b);
      pending += b.length;
      if (pending > 1 << 20) {
        await fh.write(concatBytes(buf.splice(0)));
        pending = 0;
      }
    };
    await put({ kind: 'header', version: EXPORT_VERSION, notaryId, size, exportedAt: now });
    await put({ kind: 'root', der: root });
    for (const c of await store.certificates()) await put({ kind: 'certificate', der: c.der });
    for (const c of await storedCrls(store.db)) await put({ kind: 'crl', der: c.der });
    for (let from = 1; from <= size; from += 1000) {
      const to = Math.min(size, from + 999);
      for (const e of await store.entries(from, to)) {
        const b = await store.block(e.height);
        if (!b)
          throw new BrokerError(BrokerCode.Corrupt, `no block at height ${e.height}`, {
            height: e.height,
          });
        await put({
          kind: 'entry',
          height: e.height,
          entry: e.entryBytes,
          signedHeader: b.signedHeader,
          body: b.body,
          erased: b.erased,
          receipt: await store.receipt(e.height),
        });
      }
    }
    for (const c of await store.checkpoints()) {
      if (c.size <= size) await put({ kind: 'checkpoint', ...c });
    }
    for (const e of await store.equivocations()) {
      if (e.height > size) continue;
      await put({
        kind: 'equivocation',
        gateway: e.gateway,
        seq: e.seq,
        registered: e.registered,
        conflicting: e.conflicting,
      });
    }
    for (const a of await store.anchors()) {
      if (a.size <= size) await put({ kind: 'anchor', ...a });
    }
    await put({
      kind: 'end',
      size,
      head: await store.headAt(size),
      logRoot: await store.rootAt(size),
    });
    await fh.write(concatBytes(buf));
    await fh.sync();
  } finally {
    await fh.close();
  }
  return size;
}

/** The size the export ends at: the largest signed checkpoint within the chain. */
async function exportSize(
  store: ChainStore,
  notaryId: string,
  now: number,
  signer: Signer | undefined,
): Promise<number> {
  const stored = (await store.checkpoints()).filter((c) => c.size <= store.size);
  const latest = stored.at(-1)?.size;
  if (signer && latest !== store.size) {
    const { size, head, root } = store.snapshot();
    const cp = await signCheckpoint(signer, { notaryId, size, head, logRoot: root, time: now });
    await store.putCheckpoint(size, cp, now);
    return size;
  }
  if (latest === undefined) {
    throw new BrokerError(
      BrokerCode.Store,
      'the chain holds no signed checkpoint: start the notary once, or export with its token (--config)',
    );
  }
  return latest;
}

/** Byte length of the one CBOR item (det profile: majors 0-4) starting at `pos`. */
function itemEnd(bytes: Uint8Array, pos: number): number {
  const ib = bytes[pos];
  if (ib === undefined)
    throw new BrokerError(BrokerCode.BadRequest, `truncated export at byte ${pos}`);
  const major = ib >> 5;
  const ai = ib & 0x1f;
  let p = pos + 1;
  let arg: number;
  if (ai < 24) arg = ai;
  else if (ai <= 27) {
    const len = 1 << (ai - 24);
    if (p + len > bytes.length)
      throw new BrokerError(BrokerCode.BadRequest, `truncated head at ${pos}`);
    arg = 0;
    for (let i = 0; i < len; i++) arg = arg * 256 + bytes[p + i]!;
    p += len;
  } else throw new BrokerError(BrokerCode.BadRequest, `indefinite or reserved length at ${pos}`);
  if (major === 2 || major === 3) return p + arg;
  if (major === 4) {
    for (let i = 0; i < arg; i++) p = itemEnd(bytes, p);
    return p;
  }
  if (major <= 1) return p;
  throw new BrokerError(
    BrokerCode.BadRequest,
    `CBOR major type ${major} at ${pos} is outside the profile`,
  );
}

/** Splits a CBOR sequence into its items (each decoded strictly with decodeDet). */
export function* readExport(bytes: Uint8Array): Generator<ExportItem> {
  let pos = 0;
  while (pos < bytes.length) {
    const end = itemEnd(bytes, pos);
    if (end > bytes.length)
      throw new BrokerError(BrokerCode.BadRequest, `truncated item at ${pos}`);
    const v = decodeDet(bytes.subarray(pos, end), { maxDepth: 4 });
    yield toItem(v, pos);
    pos = end;
  }
}

function toItem(v: DetValue, at: number): ExportItem {
  const bad = (why: string) =>
    new BrokerError(BrokerCode.BadRequest, `export item at byte ${at}: ${why}`);
  if (!Array.isArray(v) || typeof v[0] !== 'string') throw bad('not a tagged array');
  const a = v as DetValue[];
  const num = (i: number) => {
    if (typeof a[i] !== 'number') throw bad(`field ${i}: not an integer`);
    return a[i] as number;
  };
  const bytes = (i: number) => {
    if (!(a[i] instanceof Uint8Array)) throw bad(`field ${i}: not a byte string`);
    return a[i] as Uint8Array;
  };
  const text = (i: number) => {
    if (typeof a[i] !== 'string') throw bad(`field ${i}: not text`);
    return a[i] as string;
  };
  const opt = (b: Uint8Array) => (b.length === 0 ? undefined : b);
  const n = (len: number) => {
    if (a.length !== len) throw bad(`${a[0]}: ${len} fields expected, got ${a.length}`);
  };
  switch (a[0]) {
    case EXPORT_MAGIC:
      n(5);
      return {
        kind: 'header',
        version: num(1),
        notaryId: text(2),
        size: num(3),
        exportedAt: num(4),
      };
    case 'root':
    case 'certificate':
    case 'crl':
      n(2);
      return { kind: a[0], der: bytes(1) };
    case 'entry': {
      n(7);
      const er = a[5];
      if (!Array.isArray(er) || (er.length !== 0 && er.length !== 2))
        throw bad('erasure: [] or [at, reason]');
      const erased =
        er.length === 2 && typeof er[0] === 'number' && typeof er[1] === 'string'
          ? { at: er[0], reason: er[1] }
          : undefined;
      if (er.length === 2 && !erased) throw bad('erasure: [at uint, reason text]');
      return {
        kind: 'entry',
        height: num(1),
        entry: bytes(2),
        signedHeader: bytes(3),
        body: bytes(4),
        erased,
        receipt: opt(bytes(6)),
      };
    }
    case 'checkpoint':
      n(3);
      return { kind: 'checkpoint', size: num(1), checkpoint: bytes(2) };
    case 'equivocation':
      n(5);
      return {
        kind: 'equivocation',
        gateway: text(1),
        seq: num(2),
        registered: bytes(3),
        conflicting: bytes(4),
      };
    case 'anchor':
      n(5);
      return {
        kind: 'anchor',
        upstreamSeq: num(1),
        size: num(2),
        block: bytes(3),
        receipt: opt(bytes(4)),
      };
    case 'end':
      n(4);
      return { kind: 'end', size: num(1), head: bytes(2), logRoot: bytes(3) };
    default:
      throw bad(`unknown item '${String(a[0])}'`);
  }
}
