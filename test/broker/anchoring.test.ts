import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Upstream } from '../../broker/upstream.js';
import { decodeBlock, internalHash } from '../../core/block.js';
import { decodeSign1 } from '../../core/cose-decode.js';
import { leafHash } from '../../core/merkle.js';
import { verifyInclusion } from '../../core/merkle-verify.js';
import { decodeCheckpointPayload, verifyReceipt } from '../../core/receipt.js';
import { createTestPki } from '../helpers/pki.js';
import { BlockMaker, startNotary, tempDir } from './helpers.js';

const pki = await createTestPki(t);
const inst = await pki.participant('notary', 'notary-1');
const region = await pki.participant('notary', 'regional');
const gw1 = await pki.participant('gateway', 'gw-1');
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
