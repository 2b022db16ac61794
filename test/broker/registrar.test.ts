import { createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import t from 'tap';
import { CertificateBook } from '../../broker/cert-book.js';
import { ChainStore } from '../../broker/chain-store.js';
import { NotaryMetrics } from '../../broker/metrics.js';
import { Registrar } from '../../broker/registrar.js';
import { Trust } from '../../broker/trust.js';
import { encodeBlock } from '../../core/block.js';
import { verifyReceipt } from '../../core/receipt.js';
import { type Answer, RefusalReason } from '../../core/submit.js';
import { createTestPki } from '../helpers/pki.js';
import { BlockMaker, tempDir } from './helpers.js';

const pki = await createTestPki(t);
const notary = await pki.participant('notary', 'notary-1');
const gw1 = await pki.participant('gateway', 'gw-1');
const gw2 = await pki.participant('gateway', 'gw-2');
const stranger = await pki.participant('gateway', 'gw-9');
const device = await pki.participant('device', 'dev-1');
const notarySigner = await pki.signer(notary);
const gw1Signer = await pki.signer(gw1);
const gw2Signer = await pki.signer(gw2);
const strangerSigner = await pki.signer(stranger);
const deviceSigner = await pki.signer(device);
const notaryKey = createPublicKey(notary.signing.pem);

async function setup(t: { teardown(fn: () => unknown): void }) {
  const dir = tempDir(t);
  const store = await ChainStore.open(join(dir, 'chain.db'));
  t.teardown(() => store.close());
  const certs = new CertificateBook();
  for (const p of [gw1, gw2, device]) certs.add(p.signing.der);
  const trust = new Trust({ root: pki.rootPem });
  const metrics = new NotaryMetrics();
  const registrar = new Registrar({
    notaryId: 'notary-1',
    store,
    signer: notarySigner,
    check: { certs, trust, roles: ['gateway'], maxBlockBytes: 1 << 20 },
    metrics,
  });
  return { store, trust, registrar, metrics, certs };
}

function registered(t: Tap, a: Answer, seq: number): Uint8Array {
  t.equal(a.kind, 'registered', `seq ${seq} registered`);
  t.equal(a.seq, seq);
  return a.kind === 'registered' ? a.receipt : new Uint8Array();
}

function refused(t: Tap, a: Answer, reason: RefusalReason, expectedSeq?: number) {
  t.equal(a.kind, 'refused', `refused (${reason})`);
  if (a.kind !== 'refused') return;
  t.equal(a.reason, reason, a.detail);
  if (expectedSeq !== undefined) t.equal(a.expectedSeq, expectedSeq, 'expected seq');
}
type Tap = Pick<typeof t, 'equal'>;

t.test('blocks register in order; receipts verify under the notary key', async (t) => {
  const { registrar, store } = await setup(t);
  const m = new BlockMaker('gw-1', gw1Signer);
  const blocks = [await m.next(), await m.next(), await m.next()];
  const answers = await Promise.all(blocks.map((b) => registrar.submit('gw-1', b.bytes)));
  for (const [i, a] of answers.entries()) {
    const r = registered(t, a, i + 1);
    const v = verifyReceipt(r, notaryKey, notary.signing.kid);
    t.ok(v.ok, 'receipt verifies');
    if (v.ok) {
      t.equal(v.value.entry.height, i + 1);
      t.same(v.value.entry.internal, blocks[i]!.hash);
      t.same(v.value.logRoot, await store.rootAt(i + 1));
    }
  }
  t.equal(store.size, 3);
});

t.test('forged signature, wrong body hash, wrong topic: refused, chain unchanged', async (t) => {
  const { registrar, store, metrics } = await setup(t);
  const m = new BlockMaker('gw-1', gw1Signer);
  const b = await m.seal();
  const forgedHeader = b.block.signedHeader.slice();
  forgedHeader[forgedHeader.length - 1]! ^= 1;
  refused(
    t,
    await registrar.submit('gw-1', encodeBlock({ ...b.block, signedHeader: forgedHeader })),
    RefusalReason.Signature,
    1,
  );
  const body = b.block.body.slice();
  body[10]! ^= 1;
  refused(
    t,
    await registrar.submit('gw-1', encodeBlock({ ...b.block, body })),
    RefusalReason.BodyHash,
    1,
  );
  // gw-2 posts gw-1's block on its own topic: gw-1's certificate does not carry id gw-2.
  refused(t, await registrar.submit('gw-2', b.bytes), RefusalReason.Certificate, 1);
  // gw-2 signs a header that names gw-1 and posts it on its own topic.
  const named = await new BlockMaker('gw-1', gw2Signer).seal();
  refused(t, await registrar.submit('gw-2', named.bytes), RefusalReason.WrongTopic, 1);
  refused(t, await registrar.submit('gw-1', Uint8Array.of(1, 2, 3)), RefusalReason.Malformed);
  t.equal(store.size, 0, 'nothing registered');
  const text = await metrics.registry.getSingleMetricAsString('medchain_notary_refusals_total');
  t.match(text, /reason="signature"\} 1/);
  t.match(text, /reason="body-hash"\} 1/);
});

t.test('gap answers the expected seq; replay returns the same receipt', async (t) => {
  const { registrar, store } = await setup(t);
  const m = new BlockMaker('gw-1', gw1Signer);
  const b1 = await m.next();
  const r1 = registered(t, await registrar.submit('gw-1', b1.bytes), 1);
  await m.next();
  const b3 = await m.next();
  refused(t, await registrar.submit('gw-1', b3.bytes), RefusalReason.Gap, 2);
  const again = registered(t, await registrar.submit('gw-1', b1.bytes), 1);
  t.same(again, r1, 'the same receipt bytes');
  t.equal(store.size, 1);
  // A block with seq 2 whose prev is not h(1).
  const bad = await m.seal({ seq: 2, prev: b3.hash });
  refused(t, await registrar.submit('gw-1', bad.bytes), RefusalReason.PrevLink, 2);
});

t.test('equivocation: refused and both signed headers kept', async (t) => {
  const { registrar, store } = await setup(t);
  const m = new BlockMaker('gw-1', gw1Signer);
  const b1 = await m.next();
  registered(t, await registrar.submit('gw-1', b1.bytes), 1);
  const other = await m.seal({ seq: 1, prev: b1.header.prev, salt: 7 });
  refused(t, await registrar.submit('gw-1', other.bytes), RefusalReason.Equivocation, 2);
  const ev = await store.equivocations();
  t.equal(ev.length, 1);
  t.same(ev[0]?.registered, b1.block.signedHeader);
  t.same(ev[0]?.conflicting, other.block.signedHeader);
  t.equal(store.size, 1);
});

t.test('unknown gateway, device certificate, revoked gateway certificate', async (t) => {
  const { registrar, store, trust } = await setup(t);
  const s = await new BlockMaker('gw-9', strangerSigner).seal();
  refused(t, await registrar.submit('gw-9', s.bytes), RefusalReason.UnknownGateway);
  const d = await new BlockMaker('dev-1', deviceSigner).seal();
  refused(t, await registrar.submit('dev-1', d.bytes), RefusalReason.Certificate);
  const m = new BlockMaker('gw-2', gw2Signer);
  registered(t, await registrar.submit('gw-2', (await m.next()).bytes), 1);
  await pki.revoke(gw2.signing.serial);
  const crl = await pki.writeCrl();
  t.ok((await trust.updateCrl(new Uint8Array(crl.rawData))).ok, 'CRL installed');
  const next = await m.next();
  const a = await registrar.submit('gw-2', next.bytes);
  refused(t, a, RefusalReason.Certificate, 2);
  t.match(a.kind === 'refused' ? a.detail : '', /revoked/);
  t.equal(store.size, 1);
});

t.test('many blocks from two gateways at once: batched, all chained', async (t) => {
  const { registrar, store, metrics } = await setup(t);
  const a = new BlockMaker('gw-1', gw1Signer);
  const b = new BlockMaker('gw-2', gw2Signer);
  const blocks: [string, Uint8Array][] = [];
  for (let i = 0; i < 20; i++) {
    blocks.push(['gw-1', (await a.next()).bytes]);
    blocks.push(['gw-2', (await b.next()).bytes]);
  }
  const answers = await Promise.all(blocks.map(([g, bytes]) => registrar.submit(g, bytes)));
  t.ok(
    answers.every((x) => x.kind === 'registered'),
    'all registered',
  );
  t.equal(store.size, 40);
  const batches = await metrics.registry.getSingleMetricAsString('medchain_notary_batch_size');
  const count = Number(/medchain_notary_batch_size_count (\d+)/.exec(batches)?.[1]);
  t.ok(count < 40, `${count} transactions for 40 blocks`);
});

t.test('too large, and one block twice in one batch: one entry, one receipt', async (t) => {
  const { registrar, store } = await setup(t);
  refused(t, await registrar.submit('gw-1', new Uint8Array((1 << 20) + 1)), RefusalReason.TooLarge);
  const b = await new BlockMaker('gw-1', gw1Signer).next();
  const [x, y] = await Promise.all([
    registrar.submit('gw-1', b.bytes),
    registrar.submit('gw-1', b.bytes),
  ]);
  t.same(registered(t, x, 1), registered(t, y, 1), 'same receipt');
  t.equal(store.size, 1);
});

t.test('receipts are pipelined, and the chain feed stays in height order', async (t) => {
  const dir = tempDir(t);
  const store = await ChainStore.open(join(dir, 'chain.db'));
  t.teardown(() => store.close());
  const certs = new CertificateBook();
  certs.add(gw1.signing.der);
  let release = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let calls = 0;
  const feed: number[] = [];
  const registrar = new Registrar({
    notaryId: 'notary-1',
    store,
    signer: {
      ...notarySigner,
      signDigest: async (d) => {
        if (calls++ === 0) await gate; // the first batch's receipt is slow on the token
        return notarySigner.signDigest(d);
      },
    },
    check: {
      certs,
      trust: new Trust({ root: pki.rootPem }),
      roles: ['gateway'],
      maxBlockBytes: 1 << 20,
    },
    onRegistered: (e) => feed.push(e.entry.height),
  });
  const m = new BlockMaker('gw-1', gw1Signer);
  const [b1, b2] = [await m.next(), await m.next()];
  const p1 = registrar.submit('gw-1', b1.bytes);
  const a2 = await registrar.submit('gw-1', b2.bytes);
  registered(t, a2, 2);
  t.same(feed, [], 'block 2 answered while block 1 is still signing; nothing fed yet');
  release();
  registered(t, await p1, 1);
  await registrar.close();
  t.same(feed, [1, 2], 'fed in height order');
});
