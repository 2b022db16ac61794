import { createPublicKey } from 'node:crypto';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ChainStore } from '../../broker/chain-store.js';
import { encodeItem, readExport, writeExport } from '../../broker/export.js';
import { verifyExport } from '../../broker/export-verify.js';
import { Upstream } from '../../broker/upstream.js';
import { decodeBlock, internalHash } from '../../core/block.js';
import { decodeSign1 } from '../../core/cose-decode.js';
import { concatBytes } from '../../core/det-cbor.js';
import { leafHash } from '../../core/merkle.js';
import { verifyInclusion } from '../../core/merkle-verify.js';
import { decodeCheckpointPayload, verifyReceipt } from '../../core/receipt.js';
import { createTestPki } from '../helpers/pki.js';
import { BlockMaker, startNotary, tempDir } from './helpers.js';

const pki = await createTestPki(t);
const inst = await pki.participant('notary', 'notary-1');
const region = await pki.participant('notary', 'regional');
const gw1 = await pki.participant('gateway', 'gw-1');
const gw2 = await pki.participant('gateway', 'gw-2');
const regionKey = createPublicKey(region.signing.pem);

function anchored(up: Upstream, size: number, ms = 20_000): Promise<void> {
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

t.test(
  'anchors reach the regional chain, and catch up after the regional notary was down',
  async (t) => {
    const regionalDb = join(tempDir(t), 'regional.db');
    const regionalOpts = { dbPath: regionalDb, submitRoles: ['notary'] as const };
    let regional = await startNotary(t, pki, region, [inst], regionalOpts);
    const port = regional.broker.port;
    const institution = await startNotary(t, pki, inst, [gw1]);
    const up = await Upstream.start({
      notaryId: 'notary-1',
      upstreamId: 'regional',
      url: `mqtts://127.0.0.1:${port}`,
      everyMs: 200,
      tls: { key: readFileSync(inst.tls.keyPath, 'utf8'), cert: inst.tls.pem, ca: pki.rootPem },
      upstreamCert: region.signing.der,
      store: institution.store,
      checkpointer: institution.checkpointer,
      signer: await pki.signer(inst),
      metrics: institution.metrics,
    });
    t.teardown(() => up.stop());
    const m = new BlockMaker('gw-1', await pki.signer(gw1));
    for (let i = 0; i < 3; i++) await institution.registrar.submit('gw-1', (await m.next()).bytes);
    await anchored(up, 3);
    t.pass('anchored up to 3');

    await regional.stop();
    for (let i = 0; i < 4; i++) await institution.registrar.submit('gw-1', (await m.next()).bytes);
    t.equal(institution.store.size, 7, 'the institution chain grows while the regional is down');
    regional = await startNotary(t, pki, region, [inst], { ...regionalOpts, mqtt: { port } });
    await anchored(up, 7);
    t.equal(await up.anchoredSize(), 7, 'anchored up to the current head after the outage');
    const lag = await institution.metrics.registry.getSingleMetricAsString(
      'medchain_notary_upstream_lag_entries',
    );
    t.match(lag, /medchain_notary_upstream_lag_entries 0/);

    // Follow institution block 5 into the regional chain.
    const anchors = await institution.store.anchors();
    const last = anchors.at(-1)!;
    const block = decodeBlock(last.block);
    if (!block.ok) return t.fail('anchor block');
    const cp = decodeSign1(block.value.body);
    const c = cp.ok ? decodeCheckpointPayload(cp.msg.payload) : undefined;
    if (!c?.ok) return t.fail('anchored checkpoint');
    t.equal(c.value.size, 7);
    const proof = await institution.store.inclusionProof(5, 7);
    t.ok(
      verifyInclusion(4, 7, await institution.store.leafHashAt(5), proof, c.value.logRoot).ok,
      'block 5 is in the anchored checkpoint',
    );
    const r = verifyReceipt(last.receipt!, regionKey, region.signing.kid);
    t.ok(r.ok, 'the anchor receipt verifies under the regional notary key');
    if (!r.ok) return;
    t.same(
      r.value.entry.internal,
      internalHash(block.value.signedHeader),
      'it registers the anchor',
    );
    t.equal(r.value.entry.submitter, 'notary-1');
    const entry = await regional.store.entry(r.value.entry.height);
    t.same(entry?.entryBytes, r.value.entryBytes, 'the regional chain holds that entry');
    t.same(leafHash(entry!.entryHash), await regional.store.leafHashAt(r.value.entry.height));
  },
);

async function exportFile(t: { teardown(fn: () => unknown): void }, db: string) {
  const out = join(tempDir(t), 'chain.cbor');
  const store = await ChainStore.open(db);
  try {
    await writeExport(store, out);
  } finally {
    await store.close();
  }
  return new Uint8Array(readFileSync(out));
}

t.test(
  'verify follows anchors into the regional export; a missing or rewritten anchor fails at its height',
  async (t) => {
    const dir = tempDir(t);
    const regionalDb = join(dir, 'regional.db');
    const regional = await startNotary(t, pki, region, [inst], {
      dbPath: regionalDb,
      submitRoles: ['notary'],
    });
    const regionalEmpty = await exportFile(t, regionalDb);
    const dbA = join(dir, 'a.db');
    const dbB = join(dir, 'b.db');
    const m = new BlockMaker('gw-1', await pki.signer(gw1));
    const first = await startNotary(t, pki, inst, [gw1, gw2], { dbPath: dbA });
    for (let i = 0; i < 3; i++) await first.registrar.submit('gw-1', (await m.next()).bytes);
    await first.stop();
    // Chain B shares heights 1-3 with chain A, then goes its own way.
    copyFileSync(dbA, dbB);

    const a = await startNotary(t, pki, inst, [gw1, gw2], { dbPath: dbA });
    const up = await Upstream.start({
      notaryId: 'notary-1',
      upstreamId: 'regional',
      url: `mqtts://127.0.0.1:${regional.broker.port}`,
      everyMs: 200,
      tls: { key: readFileSync(inst.tls.keyPath, 'utf8'), cert: inst.tls.pem, ca: pki.rootPem },
      upstreamCert: region.signing.der,
      store: a.store,
      checkpointer: a.checkpointer,
      signer: await pki.signer(inst),
    });
    for (let i = 0; i < 2; i++) await a.registrar.submit('gw-1', (await m.next()).bytes);
    await anchored(up, 5);
    await up.stop();
    await a.stop();
    await regional.stop();
    const b = await startNotary(t, pki, inst, [gw1, gw2], { dbPath: dbB });
    const other = new BlockMaker('gw-2', await pki.signer(gw2));
    for (let i = 0; i < 2; i++) await b.registrar.submit('gw-2', (await other.next()).bytes);
    await b.stop();

    const exA = await exportFile(t, dbA);
    const exRegional = await exportFile(t, regionalDb);
    const v = await verifyExport(exA, { root: pki.rootPem, upstream: [exRegional] });
    t.ok(v.ok, JSON.stringify(v));
    if (v.ok) {
      t.match(v.anchors, { followed: v.anchors.count, coveredHeights: 5, highestAnchoredSize: 5 });
      t.same(v.anchors.upstream, ['regional']);
    }
    const alone = await verifyExport(exA, { root: pki.rootPem });
    t.match(
      alone,
      { ok: true, anchors: { followed: 0, coveredHeights: 0, highestAnchoredSize: 5 } },
      'without the upstream export anchors are checked but not followed',
    );

    t.match(
      await verifyExport(exA, { root: pki.rootPem, upstream: [regionalEmpty] }),
      { ok: false, check: 'anchor', detail: /is not in the upstream export/ },
      'an upstream export without the anchor: missing',
    );

    // Chain B presented with chain A's anchors: the anchored head is not B's at that size.
    const itemsA = [...readExport(exA)];
    const itemsB = [...readExport(await exportFile(t, dbB))];
    // With A's anchors goes the regional certificate their receipts are verified under
    // (B never anchored, so its export lacks it): else an anchor A took at size 3, which
    // B shares, would fail first for want of that certificate, not at the fork.
    const der = (i: (typeof itemsA)[number]) =>
      i.kind === 'certificate' ? Buffer.from(i.der).toString('hex') : '';
    const inB = new Set(itemsB.map(der));
    const bodyB = itemsB.filter((i) => i.kind !== 'end' && i.kind !== 'anchor');
    const afterCerts = bodyB.findIndex(
      (i) => i.kind !== 'header' && i.kind !== 'root' && i.kind !== 'certificate',
    );
    const spliced = concatBytes(
      [
        ...bodyB.slice(0, afterCerts),
        ...itemsA.filter((i) => i.kind === 'certificate' && !inB.has(der(i))),
        ...bodyB.slice(afterCerts),
        ...itemsA.filter((i) => i.kind === 'anchor'),
        itemsB.at(-1)!,
      ].map(encodeItem),
    );
    const sizes = itemsA.flatMap((i) => (i.kind === 'anchor' ? [i.size] : []));
    const firstAfterFork = Math.min(...sizes.filter((s) => s > 3));
    t.match(
      await verifyExport(spliced, { root: pki.rootPem, upstream: [exRegional] }),
      {
        ok: false,
        check: 'anchor',
        height: firstAfterFork,
        detail: /anchored head is not H\(size\)/,
      },
      'a chain rewritten after anchoring fails at the anchored size',
    );

    // The last anchor's receipt not yet back when the export was taken: the regional
    // export shows it registered, so its heights still count as covered.
    const lastAnchor = itemsA.map((i) => i.kind).lastIndexOf('anchor');
    const pending = concatBytes(
      itemsA.map((i, n) =>
        encodeItem(n === lastAnchor && i.kind === 'anchor' ? { ...i, receipt: undefined } : i),
      ),
    );
    const count = sizes.length;
    t.match(await verifyExport(pending, { root: pki.rootPem, upstream: [exRegional] }), {
      ok: true,
      anchors: { count, receipted: count - 1, followed: count, coveredHeights: 5 },
    });

    const anchorBlock = itemsA.find((i) => i.kind === 'anchor');
    if (anchorBlock?.kind !== 'anchor') return t.fail('an anchor item');
    const flipped = exA.slice();
    const at = Buffer.from(flipped).indexOf(Buffer.from(anchorBlock.block)) + 20;
    flipped[at]! ^= 0x01;
    t.match(
      await verifyExport(flipped, { root: pki.rootPem }),
      { ok: false, check: 'anchor', height: anchorBlock.size },
      'a flipped byte in an anchor block',
    );
    const badUpstream = exRegional.slice(0, exRegional.length - 40);
    t.match(await verifyExport(exA, { root: pki.rootPem, upstream: [badUpstream] }), {
      ok: false,
      check: 'upstream',
    });
  },
);
