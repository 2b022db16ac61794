import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { bodyAad, decodeBlock, ZERO_HASH } from '../../core/block.js';
import { verifyBlock } from '../../core/block-verify.js';
import { openBody } from '../../core/body.js';
import { kidOfCertificate } from '../../core/kid.js';
import { decodeReading } from '../../core/reading-decode.js';
import type { Signer } from '../../core/signer.js';
import { Batcher } from '../../gateway/batcher.js';
import { hsmBlockSigner, timedSigner } from '../../gateway/hsm-signer.js';
import { gatewayMetrics } from '../../gateway/metrics.js';
import { Sealer } from '../../gateway/sealer.js';
import { Spool } from '../../gateway/spool.js';
import { ChildSigner } from '../../hsm/child-signer.js';
import { HsmCode, HsmError } from '../../hsm/errors.js';
import { USER_PIN } from '../helpers/softhsm.js';
import { metricValue, readingBytes, within } from './helpers.js';
import { pki } from './pki.js';

const p = await pki(t);
const child = await ChildSigner.start({ token: 'clinic', pin: USER_PIN, keys: ['gw'] });
t.teardown(() => child.close());
const log = pino({ level: 'silent' });
const metrics = gatewayMetrics();
const signer = timedSigner(hsmBlockSigner(child, 'gw', p.gwDer), (s) =>
  metrics.signSeconds.observe(s),
);

function setup(
  spool: Spool,
  policy = { maxReadings: 3, maxBytes: 1 << 20, maxDelayMs: 60_000 },
  blockSigner: Signer = signer,
) {
  const sealer = new Sealer({
    spool,
    gatewayId: p.gatewayId,
    signer: blockSigner,
    readers: [p.readerPublic],
    metrics,
    log,
    maxReadings: policy.maxReadings,
    maxBytes: policy.maxBytes,
  });
  const batcher = new Batcher(spool, sealer, policy, log);
  const sealed: number[] = [];
  const waiters: (() => void)[] = [];
  batcher.onSealed = (seq) => {
    sealed.push(seq);
    for (const w of waiters.splice(0)) w();
  };
  const nextSeal = () =>
    within(10_000, 'a block sealed', new Promise<void>((r) => waiters.push(r)));
  return { batcher, sealed, nextSeal };
}

const rd = (seq: number) => ({
  deviceId: 'ox-1',
  seq,
  receivedAt: Date.now(),
  bytes: readingBytes('ox-1', seq),
});

t.test('N readings seal a block signed on the HSM that verifies and decrypts', async (t) => {
  const spool = await Spool.open(join(p.dir, 'seal1.db'));
  t.teardown(() => spool.close());
  const { batcher, nextSeal } = setup(spool);
  await spool.insertBatch([rd(1), rd(2)]);
  batcher.added(2, 0);
  await spool.insertBatch([rd(3), rd(4)]);
  const sealedOne = nextSeal();
  batcher.added(2, 0);
  await sealedOne;
  const b1 = await spool.block(1);
  t.ok(b1, 'block 1 stored');
  const blk = decodeBlock(b1!.bytes);
  t.ok(blk.ok);
  if (!blk.ok) return;
  const v = verifyBlock(blk.value, p.gwPublicKey, { gatewayId: p.gatewayId });
  t.ok(v.ok, 'signature by the HSM key verifies');
  if (!v.ok) return;
  t.same(v.kid, kidOfCertificate(p.gwDer), 'kid = SHA-256 of the gateway certificate');
  t.equal(v.header.seq, 1);
  t.same(v.header.prev, ZERO_HASH);
  t.equal(v.header.count, 3);
  t.same(v.hash, b1!.hash);
  const records = await openBody(blk.value.body, p.reader, bodyAad(p.gatewayId, 1));
  t.same(
    records.map((r) => {
      const d = decodeReading(r.reading, { format: 'cbor' });
      return d.ok ? d.value.reading.seq : -1;
    }),
    [1, 2, 3],
  );
  t.equal((await spool.unsealedCount()).readings, 1, 'the 4th waits for the next block');
  t.ok((await metricValue(metrics.signSeconds as never)) >= 0);
  await batcher.close();
  t.equal((await spool.unsealedCount()).readings, 0, 'close() seals what is pending');
  const b2 = await spool.block(2);
  t.same(b2?.prev, b1!.hash, 'block 2 links to block 1');
});

t.test('T ms after the first waiting reading, a partial block is sealed', async (t) => {
  const spool = await Spool.open(join(p.dir, 'seal2.db'));
  t.teardown(() => spool.close());
  const { batcher, nextSeal } = setup(spool, {
    maxReadings: 100,
    maxBytes: 1 << 20,
    maxDelayMs: 30,
  });
  await spool.insertBatch([rd(1)]);
  const s = nextSeal();
  batcher.added(1, 10);
  await s;
  t.equal((await spool.block(1))?.count, 1);
  await batcher.close();
});

t.test('sequence numbers continue across a restart, never repeated', async (t) => {
  const path = join(p.dir, 'seal3.db');
  let spool = await Spool.open(path);
  let s = setup(spool);
  await spool.insertBatch([rd(1), rd(2), rd(3)]);
  await s.batcher.flush();
  await s.batcher.close();
  await spool.close();
  spool = await Spool.open(path);
  t.teardown(() => spool.close());
  s = setup(spool);
  await spool.insertBatch([rd(4)]);
  await s.batcher.start();
  await s.batcher.flush();
  const b1 = await spool.block(1);
  const b2 = await spool.block(2);
  t.equal(b2?.seq, 2);
  t.same(b2?.prev, b1?.hash);
  const dup = await spool.db.get<{ n: number }>('SELECT count(*) AS n FROM blocks');
  t.equal(dup?.n, 2);
  await s.batcher.close();
});

t.test('readers from Trent certificates: validated, kid = reader id', async (t) => {
  const { loadReaders } = await import('../../gateway/readers.js');
  const { writeFileSync } = await import('node:fs');
  const { createPublicKey } = await import('node:crypto');
  const spki = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: Buffer.from(p.reader.publicKey.subarray(1, 33)).toString('base64url'),
      y: Buffer.from(p.reader.publicKey.subarray(33)).toString('base64url'),
    },
    format: 'jwk',
  }).export({ format: 'der', type: 'spki' });
  const issued = await p.ca.issue({ role: 'reader', id: 'cardiology-7', readerSpki: spki });
  const certPath = join(p.dir, 'reader-cert.pem');
  writeFileSync(certPath, issued.certificate.toString('pem'));
  const [r] = await loadReaders([{ certificate: certPath }], { root: p.rootPem });
  t.equal(r?.kid, 'cardiology-7');
  t.same(r?.publicKey, p.reader.publicKey);
  const gwPath = join(p.dir, 'not-a-reader.pem');
  writeFileSync(gwPath, p.gwPem);
  await t.rejects(loadReaders([{ certificate: gwPath }], { root: p.rootPem }), {
    code: 'GATEWAY_CONFIG',
    message: /wrong-role/,
  });
});

t.test('caughtUp: intake waits while readings wait unsealed; sealing releases it', async (t) => {
  const spool = await Spool.open(join(p.dir, 'hold1.db'));
  t.teardown(() => spool.close());
  const { batcher, sealed, nextSeal } = setup(spool);
  t.equal(await batcher.caughtUp(3, 60_000), false, 'below the limit: no wait');
  await spool.insertBatch([rd(1), rd(2), rd(3)]);
  const sealing = nextSeal();
  batcher.added(3, 0);
  // Three wait unsealed (the seal is under way): the wait ends with the seal, long
  // before its 60 s bound.
  const held = batcher.caughtUp(3, 60_000);
  await sealing;
  t.equal(await within(10_000, 'released by the seal', held), true, 'it waited');
  t.same(sealed, [1]);
  await batcher.close();
});

t.test('caughtUp: a stalled sealer (HSM down) only delays intake, never stops it', async (t) => {
  const spool = await Spool.open(join(p.dir, 'hold2.db'));
  t.teardown(() => spool.close());
  const down: Signer = {
    alg: signer.alg,
    kid: signer.kid,
    signDigest: () => Promise.reject(new HsmError(HsmCode.SessionClosed, 'token removed')),
  };
  const { batcher, sealed } = setup(spool, undefined, down);
  await spool.insertBatch([rd(1), rd(2), rd(3)]);
  batcher.added(3, 0);
  const t0 = Date.now();
  t.equal(await within(10_000, 'the bound', batcher.caughtUp(3, 200)), true);
  t.ok(Date.now() - t0 >= 150, 'held for about its bound');
  t.same(sealed, [], 'nothing sealed while the HSM is down');
  t.equal((await spool.unsealedCount()).readings, 3, 'the readings stay spooled');
  await batcher.close();
});
