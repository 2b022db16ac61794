/**
 * A real institution notary anchored into a real regional notary, for the console and
 * OpenAPI tests: gw-1 and gw-2 register blocks, the institution anchors into the
 * regional chain, gw-1 equivocates once (kept as evidence) and Trent revokes gw-2's
 * signing certificate in a CRL the institution installs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Upstream } from '../../broker/upstream.js';
import { createTestPki } from '../helpers/pki.js';
import { BlockMaker, startNotary, tempDir } from './helpers.js';

type Tap = Parameters<typeof createTestPki>[0];

export async function anchoredNotary(t: Tap) {
  const pki = await createTestPki(t);
  const inst = await pki.participant('notary', 'notary-1');
  const region = await pki.participant('notary', 'regional');
  const gw1 = await pki.participant('gateway', 'gw-1');
  const gw2 = await pki.participant('gateway', 'gw-2');
  const regional = await startNotary(t, pki, region, [inst], {
    dbPath: join(tempDir(t), 'regional.db'),
    submitRoles: ['notary'],
  });
  const notary = await startNotary(t, pki, inst, [gw1, gw2]);
  const up = await Upstream.start({
    notaryId: 'notary-1',
    upstreamId: 'regional',
    url: `mqtts://127.0.0.1:${regional.broker.port}`,
    everyMs: 200,
    tls: { key: readFileSync(inst.tls.keyPath, 'utf8'), cert: inst.tls.pem, ca: pki.rootPem },
    upstreamCert: region.signing.der,
    store: notary.store,
    checkpointer: notary.checkpointer,
    signer: await pki.signer(inst),
    metrics: notary.metrics,
  });
  t.teardown(() => up.stop());
  const m1 = new BlockMaker('gw-1', await pki.signer(gw1));
  const m2 = new BlockMaker('gw-2', await pki.signer(gw2));
  for (let i = 0; i < 6; i++) {
    const a = await notary.registrar.submit('gw-1', (await m1.next()).bytes);
    const b = await notary.registrar.submit('gw-2', (await m2.next()).bytes);
    if (a.kind !== 'registered' || b.kind !== 'registered')
      throw new Error('setup: not registered');
  }
  // gw-1 signs a second, different header for seq 3: the notary keeps both.
  const first = m1.sealed[2]!;
  const other = await m1.seal({ seq: 3, prev: first.header.prev, salt: 9 });
  await notary.registrar.submit('gw-1', other.bytes);
  await notary.checkpointer.checkpoint();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('not anchored in 30 s')), 30_000);
    const on = (e: { size: number }) => {
      if (e.size < 12) return;
      clearTimeout(timer);
      up.off('anchored', on);
      resolve();
    };
    up.on('anchored', on);
  });
  await pki.revoke(gw2.signing.serial, 'keyCompromise');
  const crl = await pki.writeCrl();
  const installed = await notary.trust.updateCrl(new Uint8Array(crl.rawData));
  if (!installed.ok) throw new Error(`setup: CRL not installed: ${installed.detail}`);
  return { pki, notary, regional, gw1, gw2, inst, base: `http://127.0.0.1:${notary.http!.port}` };
}
