import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { verifyReceipt } from '../../core/receipt.js';
import { Sealer } from '../../gateway/sealer.js';
import { Uplink } from '../../gateway/uplink.js';
import { metricValue, readingBytes, until } from './helpers.js';
import { NotaryResponder } from './notary-responder.js';
import { uplinkKit } from './uplink-kit.js';

const kit = await uplinkKit(t);
const { p, log, notary, gatewaySigner, gatewayKey, sealedSpool, responder, uplink, receipted } =
  kit;

t.test('blocks are submitted in order and their verified receipts stored', async (t) => {
  const { spool, metrics } = await sealedSpool(t, 5);
  const r = await responder(t);
  uplink(t, spool, metrics, r.port);
  await until('5 receipts', async () => (await receipted(spool)) === 5);
  t.same(
    r.internals.map((h) => Buffer.from(h).toString('hex')),
    await Promise.all(
      [1, 2, 3, 4, 5].map(async (s) => Buffer.from((await spool.block(s))!.hash).toString('hex')),
    ),
    'the notary registered our blocks, in seq order',
  );
  const b3 = await spool.block(3);
  const v = verifyReceipt(b3!.receipt!, notary.key, notary.kid);
  t.ok(v.ok && Buffer.from(v.value.entry.internal).equals(Buffer.from(b3!.hash)));
  t.equal(await metricValue(metrics.receipts), 5);
  t.equal(await spool.prune(Date.now() + 1), 10, 'receipted readings can be pruned');
});

for (const [mode, check] of [
  ['bad-signature', 'signature'],
  ['other-block', 'internal'],
] as const) {
  t.test(`a receipt with ${mode} is not accepted; the block is resent`, async (t) => {
    const { spool, metrics } = await sealedSpool(t, 1);
    const r = await responder(t);
    r.mode = mode;
    uplink(t, spool, metrics, r.port);
    await until(
      'a refused receipt',
      async () => (await metricValue(metrics.receiptsRejected, { check })) >= 1,
    );
    t.equal(await receipted(spool), 0, 'not marked done');
    r.mode = 'honest';
    await until('receipted after the resend', async () => (await receipted(spool)) === 1);
    t.ok(r.submissions.length >= 2, 'the block was submitted again');
  });
}

t.test('notary broker restart: the uplink reconnects and everything drains in order', async (t) => {
  const { spool, metrics } = await sealedSpool(t, 2);
  const r = await responder(t);
  const port = r.port;
  uplink(t, spool, metrics, port);
  await until('2 receipts', async () => (await receipted(spool)) === 2);
  await r.stop();
  await until(
    'uplink sees the notary gone',
    async () => (await metricValue(metrics.uplinkConnected)) === 0,
  );
  // While the notary is away, more blocks are sealed.
  const sealer = new Sealer({
    spool,
    gatewayId: p.gatewayId,
    signer: gatewaySigner,
    readers: [p.readerPublic],
    metrics,
    log,
    maxReadings: 2,
    maxBytes: 1 << 20,
  });
  for (let s = 100; s < 106; s += 2) {
    await spool.insertBatch(
      [s, s + 1].map((seq) => ({
        deviceId: 'ox-2',
        seq,
        receivedAt: 1,
        bytes: readingBytes('ox-2', seq),
      })),
    );
    await sealer.sealOnce();
  }
  t.equal(await metricValue(metrics.uplinkConnected), 0, 'still down after sealing');
  await r.start(port);
  await until(
    'all 5 receipted after the notary came back',
    async () => (await receipted(spool)) === 5,
  );
  t.equal(r.internals.length, 5, 'registered once each');
});

t.test('gateway restart: unreceipted blocks are resent by the next process', async (t) => {
  const { spool, metrics } = await sealedSpool(t, 3);
  const r = await responder(t);
  r.mode = 'silent';
  const u1 = uplink(t, spool, metrics, r.port);
  await until('submitted', () => r.submissions.length >= 2);
  await u1.close();
  t.equal(await receipted(spool), 0);
  r.mode = 'honest';
  uplink(t, spool, metrics, r.port);
  await until('all receipted by the new uplink', async () => (await receipted(spool)) === 3);
  t.equal(r.internals.length, 3);
});

t.test("'gap': a notary that lost blocks gets them again from expectedSeq", async (t) => {
  const { spool, metrics } = await sealedSpool(t, 2);
  const first = await responder(t);
  const port = first.port;
  const u = uplink(t, spool, metrics, port);
  await until('2 receipts', async () => (await receipted(spool)) === 2);
  await first.stop();
  // A notary restored from an empty backup, on the same address.
  const fresh = await responder(t);
  await fresh.stop();
  await fresh.start(port);
  const sealer = new Sealer({
    spool,
    gatewayId: p.gatewayId,
    signer: gatewaySigner,
    readers: [p.readerPublic],
    metrics,
    log,
    maxReadings: 2,
    maxBytes: 1 << 20,
  });
  await spool.insertBatch([
    { deviceId: 'ox-3', seq: 1, receivedAt: 1, bytes: readingBytes('ox-3', 1) },
  ]);
  await sealer.sealOnce();
  u.kick(); // as the batcher does after each seal
  await until(
    'block 3 receipted by the restored notary',
    async () => (await receipted(spool)) === 3,
  );
  t.equal(fresh.internals.length, 3, 'blocks 1 and 2 were resent after the gap');
  t.ok((await metricValue(metrics.refusals, { reason: 'gap' })) >= 1);
});

t.test('uplink over TLS with a client certificate; refused without one', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const { readFileSync } = await import('node:fs');
  const d = join(p.dir, 'tls');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(d, { recursive: true });
  const ossl = (args: string[]) => execFileSync('openssl', args, { cwd: d, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ossl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=test TLS CA',
  ]);
  for (const [name, ext] of [
    // The uplink checks the notary's medchain identity, not a host name (ca/tls-peer.ts).
    ['server', `subjectAltName=URI:urn:medchain:notary:${p.notaryId}\nextendedKeyUsage=serverAuth`],
    ['client', 'extendedKeyUsage=clientAuth'],
  ]) {
    ossl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    writeFileSync(join(d, `${name}.ext`), `${ext}\n`);
    ossl([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    ]);
  }
  const f = (n: string) => readFileSync(join(d, n), 'utf8');
  const { spool, metrics } = await sealedSpool(t, 2);
  const r = new NotaryResponder({
    notaryId: p.notaryId,
    gatewayId: p.gatewayId,
    gatewayKey,
    signer: p.notarySigner,
    wrongSigner: p.notarySigner,
  });
  await r.start(0, { cert: f('server.pem'), key: f('server.key'), ca: f('ca.pem') });
  t.teardown(() => r.stop());
  const base = {
    url: `mqtts://127.0.0.1:${r.tlsPort}`,
    clientId: `gw-tls-${p.gatewayId}`,
    gatewayId: p.gatewayId,
    notaryId: p.notaryId,
    notary,
    spool,
    metrics,
    log,
    retryMs: 50,
    reconnectMs: 50,
  };
  const anonymous = new Uplink({ ...base, tls: { cert: '', key: '', ca: f('ca.pem') } });
  t.teardown(() => anonymous.close());
  const good = new Uplink({
    ...base,
    clientId: `gw-tls2-${p.gatewayId}`,
    tls: { cert: f('client.pem'), key: f('client.key'), ca: f('ca.pem') },
  });
  t.teardown(() => good.close());
  await until('receipts over TLS', async () => (await receipted(spool)) === 2);
  t.notOk(anonymous.connected, 'no client certificate: no connection');
  await anonymous.close();
});

t.test('a notary asking again for a block erased here gets no empty body', async (t) => {
  const { eraseBlocks } = await import('../../gateway/erasure.js');
  const { pino } = await import('pino');
  const { spool, metrics } = await sealedSpool(t, 2);
  const first = await responder(t);
  const port = first.port;
  const lines: string[] = [];
  const u = uplink(t, spool, metrics, port, {
    log: pino({ level: 'error' }, { write: (l: string) => lines.push(l) }),
  });
  await until('2 receipts', async () => (await receipted(spool)) === 2);
  await eraseBlocks(spool, { block: 1 }, 'retention', Date.now());
  await first.stop();
  const fresh = await responder(t);
  await fresh.stop();
  await fresh.start(port);
  await spool.insertBatch([
    { deviceId: 'ox-3', seq: 1, receivedAt: 1, bytes: readingBytes('ox-3', 1) },
  ]);
  await kit.sealer(spool, metrics).sealOnce();
  u.kick();
  await until('the error is logged', () =>
    lines.some((l) => l.includes('a block whose body this gateway erased')),
  );
  await until(
    'logged again after retryMs',
    () => lines.filter((l) => l.includes('a block whose body this gateway erased')).length >= 2,
  );
  t.notOk(fresh.submissions.includes(1), 'the erased block was never submitted');
  t.equal(fresh.internals.length, 0, 'the restored notary registered nothing out of order');
});
