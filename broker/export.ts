/**
 * The chain as one self-contained file: a CBOR sequence (RFC 8742) of deterministic
 * CBOR arrays (core/det-cbor.ts), each starting with a text tag. Layout and meaning:
 * docs/FORMAT-export.md. The size is fixed when the export starts; entries registered
 * meanwhile are left out, so a running notary can be exported.
 */
import { open } from 'node:fs/promises';
import { concatBytes, type DetValue, decodeDet, encodeDet } from '../core/det-cbor.js';
import type { ChainStore } from './chain-store.js';
import { BrokerCode, BrokerError } from './errors.js';

export const EXPORT_MAGIC = 'medchain-export';
export const EXPORT_VERSION = 1;

export type ExportItem =
  | { kind: 'header'; version: number; notaryId: string; size: number; exportedAt: number }
  | { kind: 'root'; der: Uint8Array }
  | { kind: 'certificate'; der: Uint8Array }
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

/** Writes the export of `store` to `path`; returns the number of entries. */
export async function writeExport(
  store: ChainStore,
  path: string,
  now = Date.now(),
): Promise<number> {
  const size = store.size;
  const notaryId = await store.notaryId();
  if (!notaryId)
    throw new BrokerError(BrokerCode.Store, 'the chain database records no notary id yet');
  const root = await store.trustRoot();
  if (!root)
    throw new BrokerError(BrokerCode.Store, 'the chain database records no Trent root yet');
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
      await put({
        kind: 'equivocation',
        gateway: e.gateway,
        seq: e.seq,
        registered: e.registered,
        conflicting: e.conflicting,
      });
    }
    for (const a of await store.anchors()) await put({ kind: 'anchor', ...a });
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
