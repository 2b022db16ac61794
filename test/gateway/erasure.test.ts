/**
 * Retention and erasure of the gateway's copy of sealed readings: block bodies and
 * salts are erased by request (block or device) or after bodyRetentionMs, readings
 * after retentionMs; header, receipt and chain still verify; prove says "erased".
 */
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { decodeBlock, internalHash } from '../../core/block.js';
import { verifyBlock } from '../../core/block-verify.js';
import { eraseBlocks } from '../../gateway/erasure.js';
import { gatewayMetrics } from '../../gateway/metrics.js';
import { buildReadingProof } from '../../gateway/prove.js';
import { checkReceipt } from '../../gateway/receipt-check.js';
import { runRetention } from '../../gateway/retention.js';
import { Spool } from '../../gateway/spool.js';
import { metricValue, readingBytes, until } from './helpers.js';
import { uplinkKit } from './uplink-kit.js';

const kit = await uplinkKit(t);
const { p } = kit;
const certs = { gateway: p.gwDer, notary: p.notaryDer };
let n = 0;

type Tap = Parameters<typeof kit.sealedSpool>[0];

/**
 * Blocks of two readings: 1 = ox-1#1 ox-2#1, 2 = ox-1#2 ox-1#3, 3 = ox-2#2 ox-2#3,
 * 4 = ox-1#4 ox-2#4; all receipted by the notary responder unless `receipt` is false.
 */
async function fourBlocks(t: Tap, receipt = true) {
  const spool = await Spool.open(join(p.dir, `erase${++n}.db`));
  t.teardown(() => spool.close());
  const metrics = gatewayMetrics();
  const sealer = kit.sealer(spool, metrics);
  const plan: [string, number][][] = [
    [
      ['ox-1', 1],
      ['ox-2', 1],
    ],
    [
      ['ox-1', 2],
      ['ox-1', 3],
    ],
    [
      ['ox-2', 2],
      ['ox-2', 3],
    ],
    [
      ['ox-1', 4],
      ['ox-2', 4],
    ],
  ];
  for (const block of plan) {
    await spool.insertBatch(
      block.map(([deviceId, seq]) => ({
        deviceId,
        seq,
        receivedAt: Date.now(),
        bytes: readingBytes(deviceId, seq),
      })),
    );
    await sealer.sealOnce();
  }
  if (receipt) {
    const r = await kit.responder(t);
    const u = kit.uplink(t, spool, metrics, r.port);
    await until('4 receipts', async () => (await kit.receipted(spool)) === 4);
    await u.close();
  }
  return { spool, metrics };
}

/** Header signature, hash = stored hash, receipt for that hash, prev link: all still hold. */
async function chainVerifies(t: Test, spool: Spool) {
  const head = await spool.head();
  let prev: Uint8Array = new Uint8Array(32);
  for (let seq = 1; seq <= head.seq; seq++) {
    const b = (await spool.block(seq))!;
    const d = decodeBlock(b.bytes);
    if (!d.ok) throw new Error(`block ${seq} does not decode`);
    const v = verifyBlock(d.value, kit.gatewayKey, { gatewayId: p.gatewayId });
    t.ok(v.ok, `block ${seq}: header signature and body check`);
    if (!v.ok) continue;
    t.ok(Buffer.from(v.hash).equals(Buffer.from(b.hash)), `block ${seq}: hash unchanged`);
    t.ok(Buffer.from(v.header.prev).equals(Buffer.from(prev)), `block ${seq}: prev link`);
    const c = checkReceipt(b.receipt!, {
      notaryKey: kit.notary.key,
      notaryKid: kit.notary.kid,
      notaryId: p.notaryId,
      gatewayId: p.gatewayId,
      blockHash: b.hash,
    });
    t.ok(c.ok, `block ${seq}: receipt still verifies`);
    prev = b.hash;
  }
}

const bodyOf = async (spool: Spool, seq: number) => {
  const d = decodeBlock((await spool.block(seq))!.bytes);
  return d.ok ? d.value.body : undefined;
};

t.test('erasing one block: body, salts and readings go; header, receipt, chain stay', async (t) => {
  const { spool } = await fourBlocks(t);
  await t.resolves(buildReadingProof(spool, 'ox-2', 2, certs), 'a proof before the erasure');
  const r = await eraseBlocks(spool, { block: 3 }, 'patient request #17', 1000);
  t.same(r, { blocks: [3], readings: 2, already: 0 });
  t.equal((await bodyOf(spool, 3))?.length, 0, 'the body is empty');
  t.ok((await bodyOf(spool, 2))!.length > 0, 'other blocks keep theirs');
  const b3 = (await spool.block(3))!;
  t.ok(b3.erased, 'the block reads as erased');
  const d = decodeBlock(b3.bytes);
  t.ok(
    d.ok && verifyBlock(d.value, kit.gatewayKey).ok,
    'the erased block verifies (header signature)',
  );
  t.ok(
    d.ok && Buffer.from(internalHash(d.value.signedHeader)).equals(Buffer.from(b3.hash)),
    'h(n) of the kept signed header is the registered hash',
  );
  const h4 = decodeBlock((await spool.block(4))!.bytes);
  t.ok(h4.ok);
  if (h4.ok) {
    const v = verifyBlock(h4.value, kit.gatewayKey);
    t.ok(v.ok && Buffer.from(v.header.prev).equals(Buffer.from(b3.hash)));
  }
  await chainVerifies(t, spool);
  const salts = await spool.db.get<{ n: number }>(
    'SELECT length(salts) AS n FROM blocks WHERE seq = 3',
  );
  t.equal(salts?.n, 0, 'salts gone');
  const left = await spool.db.all<{ n: number }>(
    'SELECT length(bytes) AS n FROM readings WHERE block_seq = 3',
  );
  t.same(
    left.map((x) => x.n),
    [0, 0],
    'the spooled readings lost their bytes',
  );
  await t.rejects(buildReadingProof(spool, 'ox-2', 2, certs), {
    code: 'GATEWAY_ERASED',
    message: /erased .*block 3.*patient request #17/,
  });
  await t.resolves(buildReadingProof(spool, 'ox-1', 2, certs), 'block 2 still proves');
  t.same(
    await eraseBlocks(spool, { block: 3 }, 'again', 2000),
    { blocks: [], readings: 0, already: 1 },
    'idempotent',
  );
});

t.test('erasing a device: every block holding it, found even after pruning', async (t) => {
  const { spool } = await fourBlocks(t);
  // Readings of block 1 pruned already (as retention would): found through block_devices.
  await spool.db.run('DELETE FROM readings WHERE block_seq = 1');
  const r = await eraseBlocks(spool, { device: 'ox-1' }, 'device decommissioned', 1000);
  t.same(r.blocks, [1, 2, 4], 'the blocks holding ox-1, block 1 included');
  t.equal(r.readings, 4, 'the spooled readings of blocks 2 and 4');
  t.ok((await bodyOf(spool, 3))!.length > 0, 'block 3 (only ox-2) is kept');
  await t.rejects(buildReadingProof(spool, 'ox-1', 3, certs), { code: 'GATEWAY_ERASED' });
  await t.rejects(
    buildReadingProof(spool, 'ox-2', 4, certs),
    { code: 'GATEWAY_ERASED' },
    'a reading sharing an erased block goes with it',
  );
  await chainVerifies(t, spool);
  t.same(
    await eraseBlocks(spool, { device: 'nobody' }, 'x', 1000),
    { blocks: [], readings: 0, already: 0 },
    'an unknown device: nothing to erase',
  );
});

t.test('refused erasures change nothing', async (t) => {
  const { spool } = await fourBlocks(t, false);
  await t.rejects(eraseBlocks(spool, { block: 2 }, 'x', 1), {
    code: 'GATEWAY_ERASE',
    message: /block 2 has no receipt yet/,
  });
  await t.rejects(eraseBlocks(spool, { device: 'ox-1' }, 'x', 1), {
    code: 'GATEWAY_ERASE',
    message: /readings of device 'ox-1' have no receipt yet/,
  });
  await t.rejects(eraseBlocks(spool, { block: 99 }, 'x', 1), {
    code: 'GATEWAY_ERASE',
    message: /no block 99/,
  });
  await t.rejects(eraseBlocks(spool, { block: 1 }, '  ', 1), {
    code: 'GATEWAY_ERASE',
    message: /reason/,
  });
  const erased = await spool.db.get<{ n: number }>('SELECT count(*) AS n FROM erasures');
  t.equal(erased?.n, 0);
  t.ok((await bodyOf(spool, 2))!.length > 0);
  await t.rejects(
    spool.db.run("UPDATE blocks SET bytes = x'00' WHERE seq = 1"),
    /changes only by a logged erasure/,
    'the database itself refuses a body change without an erasure',
  );
  await t.rejects(spool.db.run("UPDATE blocks SET hash = x'00' WHERE seq = 1"), /never rewritten/);
});

t.test('retention: readings after retentionMs, bodies after bodyRetentionMs', async (t) => {
  const { spool } = await fourBlocks(t);
  const metrics = gatewayMetrics();
  const log = kit.log;
  const receiptAt = (await spool.db.get<{ at: number }>(
    'SELECT max(receipt_at) AS at FROM blocks',
  ))!.at;
  const policy = { retentionMs: 10_000, bodyRetentionMs: 60_000 };
  t.same(
    await runRetention(spool, policy, metrics, log, receiptAt + 5_000),
    { pruned: 0, erased: 0 },
    'within both windows: nothing',
  );
  t.same(await runRetention(spool, policy, metrics, log, receiptAt + 20_000), {
    pruned: 8,
    erased: 0,
  });
  await t.rejects(buildReadingProof(spool, 'ox-1', 1, certs), {
    code: 'GATEWAY_NO_PROOF',
    message: /pruned/,
  });
  t.ok((await bodyOf(spool, 1))!.length > 0, 'bodies outlive the readings');
  t.same(await runRetention(spool, policy, metrics, log, receiptAt + 70_000), {
    pruned: 0,
    erased: 4,
  });
  for (const seq of [1, 2, 3, 4]) t.equal((await bodyOf(spool, seq))?.length, 0);
  const reasons = await spool.db.all<{ reason: string }>('SELECT reason FROM erasures');
  t.same(
    reasons.map((r) => r.reason),
    ['retention', 'retention', 'retention', 'retention'],
  );
  await chainVerifies(t, spool);
  t.equal(await metricValue(metrics.readingsPruned), 8);
  t.equal(await metricValue(metrics.bodiesErased, { cause: 'retention' }), 4);
});

t.test('a version 1 database is upgraded: erasure works on its blocks', async (t) => {
  const { spool } = await fourBlocks(t);
  const path = spool.db.path;
  // Back to what version 1 had: its trigger, no block_devices rows.
  await spool.db.exec(`
    DROP TRIGGER blocks_immutable; DROP TRIGGER blocks_erase_only; DELETE FROM block_devices;
    CREATE TRIGGER blocks_immutable BEFORE UPDATE OF seq, prev, hash, bytes, salts ON blocks
    BEGIN SELECT RAISE(ABORT, 'a sealed block is never rewritten'); END;
    UPDATE state SET schema_version = 1;`);
  await spool.close();
  const again = await Spool.open(path);
  t.teardown(() => again.close());
  const v = await again.db.get<{ v: number }>('SELECT schema_version AS v FROM state');
  t.equal(v?.v, 2);
  const r = await eraseBlocks(again, { device: 'ox-2' }, 'upgrade check', 1);
  t.same(r.blocks, [1, 3, 4], 'block_devices was filled from the readings');
});
