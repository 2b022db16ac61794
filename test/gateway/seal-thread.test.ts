import { p256 } from '@noble/curves/nist.js';
import t from 'tap';
import { bodyAad, decodeBlock, encodeBlock, ZERO_HASH } from '../../core/block.js';
import { verifyBlock } from '../../core/block-verify.js';
import { openBody, type ReaderKey } from '../../core/body.js';
import { softwareRecipient } from '../../core/hpke.js';
import { type Signer, softwareSigner } from '../../core/signer.js';
import { GatewayCode } from '../../gateway/errors.js';
import { SealThread } from '../../gateway/seal-thread.js';
import { readingBytes } from './helpers.js';

const key = p256.utils.randomSecretKey();
const signer = softwareSigner(key, new Uint8Array([1, 2, 3]));
const reader: ReaderKey = { kid: 'reader-1', ...softwareRecipient(p256.utils.randomSecretKey()) };
const readers = [{ kid: reader.kid, publicKey: reader.publicKey }];
const readings = [1, 2, 3].map((seq) => ({
  reading: readingBytes('ox-1', seq),
  receivedAt: 1_700_000_000_000 + seq,
}));
const input = (s: Signer, seq = 1) => ({
  gatewayId: 'gw-1',
  seq,
  prev: ZERO_HASH,
  readings,
  readers,
  signer: s,
  sealedAt: 1_700_000_001_000,
});

t.test('a block sealed in the worker verifies, decrypts and carries its salts', async (t) => {
  const thread = new SealThread();
  t.teardown(() => thread.close());
  const out = await thread.seal(input(signer));
  const blk = decodeBlock(out.bytes);
  t.ok(blk.ok);
  if (!blk.ok) return;
  const v = verifyBlock(blk.value, signer.publicKey, { gatewayId: 'gw-1', kid: signer.kid });
  t.ok(v.ok, 'signed by the main thread signer');
  if (!v.ok) return;
  t.same(v.hash, out.hash);
  t.same(out.header, v.header);
  t.equal(v.header.count, 3);
  t.same(encodeBlock(blk.value), out.bytes);
  const records = await openBody(blk.value.body, reader, bodyAad('gw-1', 1));
  t.same(
    records.map((r) => r.reading),
    readings.map((r) => r.reading),
  );
  t.same(out.salts, Buffer.concat(records.map((r) => r.salt)), 'salts in leaf order');
});

t.test('a signer failure fails that seal only; the worker goes on', async (t) => {
  const thread = new SealThread();
  t.teardown(() => thread.close());
  const broken: Signer = { ...signer, signDigest: () => Promise.reject(new Error('token gone')) };
  await t.rejects(thread.seal(input(broken)), {
    code: GatewayCode.SealWorker,
    message: /token gone/,
  });
  const ok = await thread.seal(input(signer, 2));
  t.equal(ok.header.seq, 2);
});

t.test('bad input is refused with the worker error code', async (t) => {
  const thread = new SealThread();
  t.teardown(() => thread.close());
  await t.rejects(thread.seal({ ...input(signer), readings: [] }), {
    code: GatewayCode.SealWorker,
    message: /readings/,
  });
});

t.test(
  'a worker that ends fails the seals in flight; the next seal starts a new one',
  async (t) => {
    const thread = new SealThread();
    t.teardown(() => thread.close());
    // The signature never comes: the seal is in flight when the worker is ended.
    let asked: () => void = () => {};
    const signing = new Promise<void>((r) => {
      asked = r;
    });
    const stuck: Signer = {
      ...signer,
      signDigest: () => {
        asked();
        return new Promise(() => {});
      },
    };
    const inFlight = thread.seal(input(stuck));
    await signing;
    await thread.close();
    await t.rejects(inFlight, { code: GatewayCode.SealWorker, message: /exited/ });
    const again = await thread.seal(input(signer, 3));
    t.equal(again.header.seq, 3);
  },
);
