/**
 * A demo-sized pair of exports made by real parts, to tamper with: an institution
 * notary (notary-1, two gateways, 56 entries, checkpoints every 5 entries, entry 3's
 * body erased, one equivocation recorded, Trent's CRL installed) anchoring into a
 * regional notary until size 50 or so; the last entries are never anchored. Plus
 * helpers that edit an export as an attacker would: valid CBOR, chain re-linked.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChainStore } from '../../broker/chain-store.js';
import { type ExportItem, encodeItem, readExport, writeExport } from '../../broker/export.js';
import { Upstream } from '../../broker/upstream.js';
import { createCrl } from '../../ca/crl.js';
import { ZERO_HASH } from '../../core/block.js';
import { concatBytes } from '../../core/det-cbor.js';
import { decodeEntry, encodeEntry, entryHash } from '../../core/entry.js';
import { leafHash } from '../../core/merkle.js';
import { MerkleBuilder } from '../../core/merkle-builder.js';
import type { PkiParticipant, TestPki } from '../helpers/pki.js';
import { BlockMaker, startNotary, tempDir } from './helpers.js';

type Teardown = { teardown(fn: () => unknown): void };

export interface TamperFixture {
  readonly institution: Uint8Array;
  readonly regional: Uint8Array;
  /** Sizes of the institution's checkpoints, in signing order. */
  readonly checkpointSizes: readonly number[];
  /** The largest institution size the regional chain holds a checkpoint of. */
  readonly anchoredSize: number;
  readonly dir: string;
}

export async function makeTamperFixture(
  t: Teardown,
  pki: TestPki,
  parts: {
    inst: PkiParticipant;
    region: PkiParticipant;
    gws: readonly [PkiParticipant, PkiParticipant];
  },
): Promise<TamperFixture> {
  const dir = tempDir(t);
  const regional = await startNotary(t, pki, parts.region, [parts.inst], {
    dbPath: join(dir, 'regional.db'),
    submitRoles: ['notary'],
  });
  const institution = await startNotary(t, pki, parts.inst, [...parts.gws], {
    dbPath: join(dir, 'notary-1.db'),
    checkpoint: { everyEntries: 5, everyMs: 60_000 },
  });
  const up = await Upstream.start({
    notaryId: parts.inst.id,
    upstreamId: parts.region.id,
    url: `mqtts://127.0.0.1:${regional.broker.port}`,
    everyMs: 150,
    tls: {
      key: readFileSync(parts.inst.tls.keyPath, 'utf8'),
      cert: parts.inst.tls.pem,
      ca: pki.rootPem,
    },
    upstreamCert: parts.region.signing.der,
    store: institution.store,
    checkpointer: institution.checkpointer,
    signer: await pki.signer(parts.inst),
    metrics: institution.metrics,
  });
  t.teardown(() => up.stop());
  const makers = await Promise.all(
    parts.gws.map(async (g) => new BlockMaker(g.id, await pki.signer(g))),
  );
  const submit = async (i: number) => {
    const m = makers[i % 2]!;
    const ans = await institution.registrar.submit(m.gatewayId, (await m.next()).bytes);
    if (ans.kind !== 'registered') throw new Error(JSON.stringify(ans));
  };
  let n = 0;
  for (const target of [10, 20, 30, 40, 50]) {
    while (n < target) await submit(n++);
    await institution.checkpointer.checkpoint();
    await anchoredUpTo(up, target);
  }
  await up.stop();
  while (n < 56) await submit(n++);
  // gw-1 signs a second, different block for its seq 2: the notary keeps both headers.
  const gw1 = makers[0]!;
  const other = await gw1.seal({ seq: 2, prev: gw1.sealed[0]!.hash, salt: 7 });
  const ans = await institution.registrar.submit(gw1.gatewayId, other.bytes);
  if (ans.kind !== 'refused' || ans.reason !== 'equivocation') throw new Error(JSON.stringify(ans));
  await institution.store.eraseBody(3, 'erasure request #12', Date.now());
  const crl = await institution.trust.updateCrl(new Uint8Array((await createCrl(pki.ca)).rawData));
  if (!crl.ok) throw new Error(crl.detail);
  await institution.stop();
  await regional.stop();

  const out = async (id: string) => {
    const file = join(dir, `${id}.chain`);
    const store = await ChainStore.open(join(dir, `${id}.db`));
    try {
      await writeExport(store, file);
    } finally {
      await store.close();
    }
    return new Uint8Array(readFileSync(file));
  };
  const inst = await out('notary-1');
  const reg = await out('regional');
  const items = [...readExport(inst)];
  const checkpointSizes = items.flatMap((i) => (i.kind === 'checkpoint' ? [i.size] : []));
  const anchoredSize = Math.max(
    ...items.flatMap((i) => (i.kind === 'anchor' && i.receipt ? [i.size] : [])),
  );
  return { institution: inst, regional: reg, checkpointSizes, anchoredSize, dir };
}

function anchoredUpTo(up: Upstream, size: number, ms = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not anchored up to ${size} in ${ms} ms`)), ms);
    const on = (e: { size: number }) => {
      if (e.size < size) return;
      clearTimeout(timer);
      up.off('anchored', on);
      resolve();
    };
    up.on('anchored', on);
  });
}

export const items = (bytes: Uint8Array): ExportItem[] => [...readExport(bytes)];
export const encode = (list: readonly ExportItem[]): Uint8Array =>
  concatBytes(list.map(encodeItem));

type EntryItem = Extract<ExportItem, { kind: 'entry' }>;

/**
 * What an attacker who can edit the file but holds no key can do after changing
 * entries: re-link every entry's prev to the new H(n-1), and rewrite header and end
 * trailer to the new size, head and log root. Other items are kept as given.
 */
export function relink(list: readonly ExportItem[]): ExportItem[] {
  const b = new MerkleBuilder();
  let prev = ZERO_HASH;
  let size = 0;
  const out = list.map((i): ExportItem => {
    if (i.kind !== 'entry') return i;
    const d = decodeEntry(i.entry);
    if (!d.ok) throw new Error(d.detail);
    size += 1;
    const entry = encodeEntry({ ...d.value, height: size, prev });
    prev = entryHash(entry);
    b.append(leafHash(prev));
    return { ...i, height: size, entry };
  });
  return out.map((i) => {
    if (i.kind === 'header') return { ...i, size };
    if (i.kind === 'end') return { ...i, size, head: prev, logRoot: b.root() };
    return i;
  });
}

/** Edits the decoded entry of one entry item (the chain is not re-linked here). */
export function editEntry(
  i: EntryItem,
  edit: (e: ReturnType<typeof decodeEntry> & { ok: true }) => Parameters<typeof encodeEntry>[0],
): EntryItem {
  const d = decodeEntry(i.entry);
  if (!d.ok) throw new Error(d.detail);
  return { ...i, entry: encodeEntry(edit(d)) };
}
