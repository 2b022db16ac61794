import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ChainStore } from '../../broker/chain-store.js';
import { encodeItem, readExport, writeExport } from '../../broker/export.js';
import { verifyExport } from '../../broker/export-verify.js';
import { createCrl } from '../../ca/crl.js';
import { concatBytes } from '../../core/det-cbor.js';
import { SqliteDb } from '../../ops/sqlite.js';
import { createTestPki } from '../helpers/pki.js';
import { BlockMaker, startNotary, tempDir } from './helpers.js';

const pki = await createTestPki(t);
const me = await pki.participant('notary', 'notary-1');
const gw1 = await pki.participant('gateway', 'gw-1');
const gw2 = await pki.participant('gateway', 'gw-2');
const s1 = await pki.signer(gw1);
const s2 = await pki.signer(gw2);

/** A stopped notary database with 8 entries from two gateways, entry 3's body erased, a CRL held. */
async function chain(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dbPath = join(tempDir(t), 'chain.db');
  const notary = await startNotary(t, pki, me, [gw1, gw2], { dbPath });
  const a = new BlockMaker('gw-1', s1);
  const b = new BlockMaker('gw-2', s2);
  for (let i = 0; i < 4; i++) {
    for (const [g, m] of [
      ['gw-1', a],
      ['gw-2', b],
    ] as const) {
      const ans = await notary.registrar.submit(g, (await m.next()).bytes);
      if (ans.kind !== 'registered') throw new Error(JSON.stringify(ans));
    }
  }
  await notary.checkpointer.checkpoint();
  await notary.store.eraseBody(3, 'erasure request #12', Date.now());
  const installed = await notary.trust.updateCrl(new Uint8Array((await createCrl(pki.ca)).rawData));
  if (!installed.ok) throw new Error(installed.detail);
  await notary.stop();
  return dbPath;
}

async function exportOf(
  t: { teardown(fn: () => unknown): void },
  dbPath: string,
): Promise<Uint8Array> {
  const out = join(tempDir(t), 'chain.cbor');
  const store = await ChainStore.open(dbPath);
  try {
    await writeExport(store, out);
  } finally {
    await store.close();
  }
  return new Uint8Array(readFileSync(out));
}

t.test(
  'export round trip: reads back, verifies with the root alone, erasure reported',
  async (t) => {
    const bytes = await exportOf(t, await chain(t));
    const kinds = [...readExport(bytes)].map((i) => i.kind);
    t.equal(kinds[0], 'header');
    t.equal(kinds[1], 'root');
    t.equal(kinds.filter((k) => k === 'entry').length, 8);
    t.equal(kinds.at(-1), 'end');
    const v = await verifyExport(bytes, { root: pki.rootPem });
    t.ok(v.ok, JSON.stringify(v));
    if (v.ok) {
      t.equal(v.size, 8);
      t.same(v.erased, [3], 'the erased body is reported, not failed');
      t.same(v.unreceipted, []);
      t.ok(v.checkpoints >= 2);
      t.match(v, { crls: 1, revocationChecked: true }, 'the CRL the notary held is applied');
    }
    const w = await verifyExport(bytes, { root: me.tls.pem });
    t.equal(w.ok ? 'ok' : w.check, 'root', 'another root than the one given is refused');
  },
);

t.test('a block body edited in the database is named by height', async (t) => {
  const dbPath = await chain(t);
  const raw = await SqliteDb.open(dbPath);
  await raw.exec('DROP TRIGGER blocks_only_erasure');
  await raw.run('UPDATE blocks SET body = randomblob(length(body)) WHERE height = 5');
  await raw.close();
  const v = await verifyExport(await exportOf(t, dbPath), { root: pki.rootPem });
  t.notOk(v.ok);
  if (!v.ok) {
    t.equal(v.check, 'block');
    t.equal(v.height, 5);
    t.match(v.detail, /body-hash/);
  }
});

t.test('a flipped byte in an exported receipt or header is named by height', async (t) => {
  const bytes = await exportOf(t, await chain(t));
  const items = [...readExport(bytes)];
  const e6 = items.find((i) => i.kind === 'entry' && i.height === 6);
  if (e6?.kind !== 'entry' || !e6.receipt) return t.fail('entry 6');
  const flip = (needle: Uint8Array) => {
    const copy = bytes.slice();
    const at = Buffer.from(copy).indexOf(Buffer.from(needle)) + needle.length - 5;
    copy[at]! ^= 0x01;
    return copy;
  };
  const r = await verifyExport(flip(e6.receipt), { root: pki.rootPem });
  t.same(r.ok ? 'ok' : [r.check, r.height], ['receipt', 6]);
  const h = await verifyExport(flip(e6.signedHeader), { root: pki.rootPem });
  t.same(h.ok ? 'ok' : [h.check, h.height], ['internal', 6]);
  const truncated = await verifyExport(bytes.subarray(0, bytes.length - 80), { root: pki.rootPem });
  t.notOk(truncated.ok, 'a truncated export fails');
});

t.test(
  'revocation: the CRL the notary holds travels in the export; each block is judged at its registration',
  async (t) => {
    const gwA = await pki.participant('gateway', 'gw-a');
    const gwB = await pki.participant('gateway', 'gw-b');
    const T0 = Date.now();
    let clock = T0;
    const dbPath = join(tempDir(t), 'chain.db');
    const notary = await startNotary(t, pki, me, [gwA, gwB], { dbPath, now: () => clock });
    const a = new BlockMaker('gw-a', await pki.signer(gwA));
    const b = new BlockMaker('gw-b', await pki.signer(gwB));
    // Heights 1..4 registered at T0, +10 s, +20 s, +50 s.
    for (const [offset, g, m] of [
      [0, 'gw-a', a],
      [10_000, 'gw-b', b],
      [20_000, 'gw-a', a],
      [50_000, 'gw-b', b],
    ] as const) {
      clock = T0 + offset;
      const ans = await notary.registrar.submit(g, (await m.next()).bytes);
      if (ans.kind !== 'registered') throw new Error(JSON.stringify(ans));
    }
    // gw-a is revoked after all its blocks, gw-b between its two (Trent dates in whole seconds).
    await pki.ca.revoke(gwA.signing.serial, 'superseded', new Date(T0 + 100_000));
    await pki.ca.revoke(gwB.signing.serial, 'keyCompromise', new Date(T0 + 35_000));
    const crl = new Uint8Array((await createCrl(pki.ca)).rawData);
    const installed = await notary.trust.updateCrl(crl);
    t.ok(installed.ok, installed.detail);
    await notary.stop();

    const bytes = await exportOf(t, dbPath);
    const items = [...readExport(bytes)];
    t.equal(items[0]?.kind === 'header' && items[0].version, 2, 'export version 2');
    const crlItems = items.filter((i) => i.kind === 'crl');
    t.equal(crlItems.length, 1, 'the CRL the notary installed is in the export');
    t.same(crlItems[0]?.kind === 'crl' && Buffer.from(crlItems[0].der), Buffer.from(crl));
    const v = await verifyExport(bytes, { root: pki.rootPem });
    t.match(
      v,
      { ok: false, check: 'certificate', height: 4, detail: /^revoked: / },
      'heights 1-3 (registered before their revocation dates) pass; height 4 fails',
    );

    // The same chain without its CRL: revocation unknown, said so; the auditor's CRL judges it.
    const stripped = concatBytes(items.filter((i) => i.kind !== 'crl').map(encodeItem));
    const blind = await verifyExport(stripped, { root: pki.rootPem });
    t.match(blind, { ok: true, size: 4, crls: 0, revocationChecked: false });
    const given = await verifyExport(stripped, { root: pki.rootPem, crls: [crl] });
    t.match(given, { ok: false, check: 'certificate', height: 4 });

    // A CRL that is not Trent's, or that comes after the entries, is refused as such.
    const crlAt = Buffer.from(bytes).indexOf(Buffer.from(crl));
    const forged = bytes.slice();
    forged[crlAt + crl.length - 3]! ^= 0x01;
    t.match(await verifyExport(forged, { root: pki.rootPem }), {
      ok: false,
      check: 'crl',
      detail: /not a CRL signed by the root/,
    });
    const late = concatBytes(
      [
        ...items.filter((i) => i.kind !== 'crl' && i.kind !== 'end'),
        ...crlItems,
        items.at(-1)!,
      ].map(encodeItem),
    );
    t.match(await verifyExport(late, { root: pki.rootPem }), {
      ok: false,
      check: 'format',
      detail: /CRLs must precede entries/,
    });
    const v1 = concatBytes(
      items.map((i) => encodeItem(i.kind === 'header' ? { ...i, version: 1 } : i)),
    );
    t.match(await verifyExport(v1, { root: pki.rootPem }), {
      ok: false,
      check: 'format',
      detail: /version 2/,
    });
    t.match(await verifyExport(stripped, { root: pki.rootPem, crls: ['not a CRL'] }), {
      ok: false,
      check: 'crl',
      detail: /given CRL 1: unreadable/,
    });
  },
);

t.test(
  'the export ends at a signed checkpoint: the latest one, or one signed with the token',
  async (t) => {
    const notary = await startNotary(t, pki, me, [gw1], {
      checkpoint: { everyEntries: 1000, everyMs: 600_000 },
    });
    const m = new BlockMaker('gw-1', s1);
    for (let i = 0; i < 4; i++) await notary.registrar.submit('gw-1', (await m.next()).bytes);
    t.equal(notary.store.size, 4);
    // Running, with only the start-up checkpoint (size 0) signed: the export ends there.
    const older = join(tempDir(t), 'older.cbor');
    t.equal(await writeExport(notary.store, older), 0, 'entries after the checkpoint are left out');
    t.match(await verifyExport(new Uint8Array(readFileSync(older)), { root: pki.rootPem }), {
      ok: true,
      size: 0,
    });
    const full = join(tempDir(t), 'full.cbor');
    const n = await writeExport(notary.store, full, { signer: await pki.signer(me) });
    t.equal(n, 4, 'a checkpoint signed at the current size covers every entry');
    t.match(await verifyExport(new Uint8Array(readFileSync(full)), { root: pki.rootPem }), {
      ok: true,
      size: 4,
      unreceipted: [],
    });
    t.equal((await notary.store.latestCheckpoint())?.size, 4, 'the new checkpoint is stored');
  },
);
