import { createPublicKey } from 'node:crypto';
import t from 'tap';
import { CRL_TOPIC } from '../../ca/publish.js';
import { verifyCheckpoint, verifyReceipt } from '../../core/receipt.js';
import { decodeAnswer, topics } from '../../core/submit.js';
import { createTestPki } from '../helpers/pki.js';
import { BlockMaker, connectAs, nextMessage, startNotary } from './helpers.js';

const pki = await createTestPki(t);
const me = await pki.participant('notary', 'notary-1');
const gw1 = await pki.participant('gateway', 'gw-1');
const gw2 = await pki.participant('gateway', 'gw-2');
const gw3 = await pki.participant('gateway', 'gw-3');
const device = await pki.participant('device', 'dev-1');
const replica = await pki.participant('notary', 'replica-1');
const gw1Signer = await pki.signer(gw1);
const notaryKey = createPublicKey(me.signing.pem);
const N = 'notary-1';

t.test(
  'a gateway submits over TLS and gets verifiable receipts; replicas get the feed',
  async (t) => {
    const notary = await startNotary(t, pki, me, [gw1, gw2]);
    const port = notary.broker.port;
    const rep = await connectAs(t, pki, replica, port);
    await rep.subscribeAsync([topics.chain(N), topics.checkpoint(N)], { qos: 1 });
    const gw = await connectAs(t, pki, gw1, port);
    await gw.subscribeAsync(topics.receipt(N, 'gw-1'), { qos: 1 });
    const m = new BlockMaker('gw-1', gw1Signer);
    for (let seq = 1; seq <= 3; seq++) {
      const b = await m.next();
      const feed = nextMessage(rep, topics.chain(N));
      const got = nextMessage(gw, topics.receipt(N, 'gw-1'));
      await gw.publishAsync(topics.submit(N, 'gw-1'), Buffer.from(b.bytes), { qos: 1 });
      const a = decodeAnswer(new Uint8Array(await got));
      t.ok(a.ok && a.value.kind === 'registered' && a.value.seq === seq, `receipt for seq ${seq}`);
      if (a.ok && a.value.kind === 'registered') {
        const v = verifyReceipt(a.value.receipt, notaryKey, me.signing.kid);
        t.ok(v.ok && v.value.entry.height === seq, 'receipt verifies, names the height');
      }
      t.ok((await feed).length > b.bytes.length, 'chain feed item published');
    }
    t.equal(notary.store.size, 3);
    const cp = await notary.checkpointer.checkpoint();
    t.ok(cp && verifyCheckpoint(cp, notaryKey, me.signing.kid).ok, 'checkpoint verifies');
  },
);

t.test(
  'a gateway publishing on another gateway topic is disconnected; chain unchanged',
  async (t) => {
    const notary = await startNotary(t, pki, me, [gw1, gw2]);
    const gw = await connectAs(t, pki, gw2, notary.broker.port);
    const closed = new Promise<void>((resolve) => gw.once('close', () => resolve()));
    const b = await new BlockMaker('gw-1', gw1Signer).next();
    gw.publish(topics.submit(N, 'gw-1'), Buffer.from(b.bytes), { qos: 1 });
    await closed;
    t.equal(notary.store.size, 0);
    const m = await notary.metrics.registry.getSingleMetricAsString(
      'medchain_notary_admission_refusals_total',
    );
    t.match(m, /hook="publish",reason="topic"\} 1/);
  },
);

t.test('subscriptions outside the ACL get a failure SUBACK', async (t) => {
  const notary = await startNotary(t, pki, me, [gw1, gw2]);
  const gw = await connectAs(t, pki, gw2, notary.broker.port);
  const err = await gw
    .subscribeAsync(
      [topics.receipt(N, 'gw-1'), topics.receipt(N, 'gw-2'), topics.submit(N, 'gw-1'), '#'],
      { qos: 1 },
    )
    .then(
      () => undefined,
      (e: { packet?: { granted?: number[] } }) => e,
    );
  t.same(err?.packet?.granted, [128, 1, 128, 128], 'only its own receipt topic granted');
});

t.test(
  'device certificates, wrong client ids and revoked TLS certificates are refused',
  async (t) => {
    const notary = await startNotary(t, pki, me, [gw1, gw2, gw3]);
    const port = notary.broker.port;
    await t.rejects(
      connectAs(t, pki, device, port),
      /Not authorized/i,
      'device refused at connect',
    );
    await t.rejects(
      connectAs(t, pki, gw2, port, 'gw-1'),
      /Identifier rejected/i,
      'client id of another participant refused',
    );
    const connected = await connectAs(t, pki, gw3, port);
    const closed = new Promise<void>((resolve) => connected.once('close', () => resolve()));
    await pki.revoke(gw3.tls.serial);
    const crl = await pki.writeCrl();
    // Any authenticated client may bring a CRL: it is checked under Trent's root.
    const rep = await connectAs(t, pki, replica, port);
    await rep.publishAsync(CRL_TOPIC, Buffer.from(crl.rawData), { qos: 1, retain: true });
    await closed;
    t.pass('connected client with a revoked certificate was disconnected');
    await t.rejects(connectAs(t, pki, gw3, port, 'gw-3-b'), /Not authorized/i, 'revoked refused');
    const m = await notary.metrics.registry.getSingleMetricAsString(
      'medchain_notary_admission_refusals_total',
    );
    t.match(m, /hook="connect",reason="wrong-role"\} 1/);
    t.match(m, /hook="connect",reason="revoked"\} 1/);
  },
);

t.test(
  'a refused certificate (wrong role; a revoked one alike) reconnecting in a loop is backed off before its handshake; gateways go on',
  async (t) => {
    const notary = await startNotary(t, pki, me, [gw1, gw2], {
      mqtt: { port: 0, authLimits: { failuresPerAddress: 3, backoffMs: 60_000 } },
    });
    const port = notary.broker.port;
    // The storm: a device certificate (never admitted) from 127.0.0.2, 20 times over.
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      outcomes.push(
        await connectAs(t, pki, device, port, device.id, '127.0.0.2').then(
          () => 'connected',
          (err: Error) => (/Not authorized/i.test(err.message) ? 'refused' : 'dropped'),
        ),
      );
    }
    t.equal(outcomes.filter((o) => o === 'connected').length, 0);
    t.equal(outcomes.filter((o) => o === 'refused').length, 3, 'three CONNACK 5, then back-off');
    t.equal(outcomes.filter((o) => o === 'dropped').length, 17, 'the rest dropped unanswered');
    t.ok(notary.broker.limiter.blockedFor('127.0.0.2') > 0);
    const m = await notary.metrics.registry.getSingleMetricAsString(
      'medchain_notary_admission_refusals_total',
    );
    t.match(m, /hook="connect",reason="wrong-role"\} 3/);
    t.match(m, /hook="tls",reason="rate-limited"\} 17/);
    // A gateway from another address submits and is answered as usual.
    const gw = await connectAs(t, pki, gw1, port);
    await gw.subscribeAsync(topics.receipt(N, 'gw-1'), { qos: 1 });
    const got = nextMessage(gw, topics.receipt(N, 'gw-1'));
    const b = await new BlockMaker('gw-1', gw1Signer).next();
    await gw.publishAsync(topics.submit(N, 'gw-1'), Buffer.from(b.bytes), { qos: 1 });
    const a = decodeAnswer(new Uint8Array(await got));
    t.ok(a.ok && a.value.kind === 'registered', 'the gateway is registered during the storm');
  },
);
