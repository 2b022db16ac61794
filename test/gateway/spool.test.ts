import { join } from 'node:path';
import t from 'tap';
import { GatewayCode } from '../../gateway/errors.js';
import { Intake } from '../../gateway/intake.js';
import { Spool } from '../../gateway/spool.js';
import { readingBytes, tempDir } from './helpers.js';

const dir = tempDir(t);
let n = 0;
const fresh = async (t: { teardown(fn: () => unknown): void }) => {
  const s = await Spool.open(join(dir, `spool${++n}.db`));
  t.teardown(() => s.close());
  return s;
};
const r = (deviceId: string, seq: number, spo2 = 97) => ({
  deviceId,
  seq,
  receivedAt: 1_700_000_000_000 + seq,
  bytes: readingBytes(deviceId, seq, spo2),
});

t.test('dedup by (device, seq); conflicts and gaps reported', async (t) => {
  const s = await fresh(t);
  const a = await s.insertBatch([r('ox-1', 1), r('ox-1', 2), r('ox-2', 1)]);
  t.same(
    a.map((x) => x.outcome),
    ['stored', 'stored', 'stored'],
  );
  const b = await s.insertBatch([r('ox-1', 2), r('ox-1', 2, 90), r('ox-1', 5)]);
  t.same(
    b.map((x) => [x.outcome, x.gap]),
    [
      ['duplicate', 0],
      ['conflict', 0],
      ['stored', 2],
    ],
  );
  const late = await s.insertBatch([r('ox-1', 4), r('ox-1', 6)]);
  t.same(
    late.map((x) => [x.outcome, x.gap, x.late]),
    [
      ['stored', 0, true],
      ['stored', 0, false],
    ],
    'seq 4 after 5: late, filling one of the holes counted',
  );
  const row = await s.db.get<{ n: number }>('SELECT count(*) AS n FROM readings');
  t.equal(row?.n, 6, 'a duplicate is not stored twice');
  t.same(s.backlog().readings, 6);
});

t.test('a transaction stores each device in seq order, whatever the arrival order', async (t) => {
  const s = await fresh(t);
  const intake = new Intake(s, { maxBacklogReadings: 10_000, maxBacklogBytes: 1 << 30 });
  // Submitted in one tick: one transaction, as from several shared-subscription members.
  const res = await Promise.all([3, 1, 2, 5, 4].map((seq) => intake.submit(r('ox-9', seq))));
  t.same(
    res.map((x) => [x.outcome, x.gap, x.late]),
    Array.from({ length: 5 }, () => ['stored', 0, false]),
    'no false gap, nothing late',
  );
  const rows = await s.db.all<{ seq: number }>('SELECT seq FROM readings ORDER BY id');
  t.same(
    rows.map((x) => x.seq),
    [1, 2, 3, 4, 5],
  );
  await intake.close();
});

t.test('one batch: repeats, conflicts, gaps and late seqs as if stored one by one', async (t) => {
  const s = await fresh(t);
  await s.insertBatch([r('ox-1', 3)]);
  const same = r('ox-2', 1);
  // 600 readings span three multi-row statements (250 rows each); repeats cross them.
  const batch = [
    r('ox-1', 2), // below the device's last seq: stored, no gap, last stays 3
    r('ox-1', 6), // gap of 2 (4, 5)
    same,
    same, // the very same object again: a duplicate
    ...Array.from({ length: 300 }, (_, i) => r('ecg-1', i + 1)),
    r('ox-2', 1, 90), // same (device, seq), other bytes: conflict
    ...Array.from({ length: 293 }, (_, i) => r('ecg-1', i + 302)), // gap of 1 (301)
    r('ecg-1', 5), // repeat of a reading stored 300 rows earlier in this batch
    r('ox-1', 7),
  ];
  const out = await s.insertBatch(batch);
  t.equal(out.length, batch.length);
  const at = (i: number) => [out[i]?.outcome, out[i]?.gap];
  t.same(at(0), ['stored', 0]);
  t.equal(out[0]?.late, true, 'below the last seq: late');
  t.same(at(1), ['stored', 2]);
  t.equal(out[1]?.late, false);
  t.same(at(2), ['stored', 0]);
  t.same(at(3), ['duplicate', 0]);
  t.same(at(304), ['conflict', 0]);
  t.same(at(305), ['stored', 1]);
  t.same(at(batch.length - 2), ['duplicate', 0]);
  t.same(at(batch.length - 1), ['stored', 0]);
  t.equal(out.filter((x) => x.outcome === 'stored').length, 1 + 1 + 1 + 300 + 293 + 1);
  const seqs = await s.db.all<{ device_id: string; last_seq: number }>(
    'SELECT device_id, last_seq FROM device_seq ORDER BY device_id',
  );
  t.same(seqs, [
    { device_id: 'ecg-1', last_seq: 594 },
    { device_id: 'ox-1', last_seq: 7 },
    { device_id: 'ox-2', last_seq: 1 },
  ]);
  const kept = await s.db.get<{ bytes: Uint8Array }>(
    "SELECT bytes FROM readings WHERE device_id = 'ox-2' AND seq = 1",
  );
  t.same(
    Buffer.from(kept?.bytes ?? []),
    Buffer.from(same.bytes),
    'the first of a conflict is kept',
  );
  t.equal(s.backlog().readings, 1 + 597);
});

t.test('group commit: many readings, one transaction, promises settle after COMMIT', async (t) => {
  const s = await fresh(t);
  const intake = new Intake(s, { maxBacklogReadings: 10_000, maxBacklogBytes: 1 << 30 });
  let commits = 0;
  intake.onCommit = () => {
    commits++;
  };
  const all = await Promise.all(Array.from({ length: 200 }, (_, i) => intake.submit(r('d', i))));
  t.ok(all.every((x) => x.outcome === 'stored'));
  t.ok(commits < 200, `${commits} transactions for 200 readings`);
  // What a PUBACK promised is on disk: a second connection sees every row.
  const other = await Spool.open(s.db.path);
  const row = await other.db.get<{ n: number }>('SELECT count(*) AS n FROM readings');
  await other.close();
  t.equal(row?.n, 200);
});

t.test('pushback above the backlog limit, resumes after a receipt', async (t) => {
  const s = await fresh(t);
  const intake = new Intake(s, { maxBacklogReadings: 3, maxBacklogBytes: 1 << 30 });
  for (let i = 1; i <= 3; i++) await intake.submit(r('d', i));
  t.ok(intake.overloaded);
  await t.rejects(intake.submit(r('d', 4)), { code: GatewayCode.Pushback });
  const pending = await s.unsealed(10, 1 << 20);
  const head = await s.head();
  await s.storeBlock({
    seq: head.seq + 1,
    prev: head.hash,
    hash: new Uint8Array(32).fill(1),
    bytes: Uint8Array.of(1),
    sealedAt: 1,
    count: pending.length,
    lastReadingId: pending.at(-1)!.id,
    salts: new Uint8Array(16 * pending.length),
  });
  t.ok(intake.overloaded, 'sealed is not receipted: still refusing');
  t.equal(await s.storeReceipt(1, Uint8Array.of(9), Date.now()), true);
  t.notOk(intake.overloaded);
  t.equal((await intake.submit(r('d', 4))).outcome, 'stored');
  t.equal(await s.storeReceipt(1, Uint8Array.of(9), Date.now()), false, 'receipt stored once');
});

t.test('blocks: seq follows the head, across reopen; never two with one seq', async (t) => {
  const s = await fresh(t);
  await s.insertBatch([r('d', 1), r('d', 2), r('d', 3)]);
  const p1 = await s.unsealed(2, 1 << 20);
  const h0 = await s.head();
  t.equal(h0.seq, 0);
  const blk = (seq: number, prev: Uint8Array, fill: number, ids: typeof p1) => ({
    seq,
    prev,
    hash: new Uint8Array(32).fill(fill),
    bytes: Uint8Array.of(fill),
    sealedAt: 1,
    count: ids.length,
    lastReadingId: ids.at(-1)!.id,
    salts: new Uint8Array(16 * ids.length),
  });
  await s.storeBlock(blk(1, h0.hash, 1, p1));
  await t.rejects(s.storeBlock(blk(1, h0.hash, 2, p1)), { code: GatewayCode.HeadMoved });
  const path = s.db.path;
  await s.close();
  const s2 = await Spool.open(path);
  t.teardown(() => s2.close());
  const h1 = await s2.head();
  t.equal(h1.seq, 1);
  t.same(h1.hash, new Uint8Array(32).fill(1));
  const p2 = await s2.unsealed(10, 1 << 20);
  t.equal(p2.length, 1);
  await t.rejects(s2.storeBlock(blk(2, h0.hash, 2, p2)), { code: GatewayCode.HeadMoved }, 'prev');
  await s2.storeBlock(blk(2, h1.hash, 2, p2));
  await t.rejects(
    s2.db.run('UPDATE blocks SET bytes = ? WHERE seq = 1', [Uint8Array.of(7)]),
    /changes only by a logged erasure/,
  );
  await t.rejects(s2.db.run('UPDATE blocks SET seq = 9 WHERE seq = 1'), /never rewritten/);
  t.same(
    (await s2.unreceipted(1, 10)).map((b) => b.seq),
    [1, 2],
  );
  await s2.storeReceipt(1, Uint8Array.of(1), 1000);
  t.equal(await s2.prune(999), 0, 'inside the retention window: kept');
  t.equal(await s2.prune(1001), 2, 'receipted and past the window: pruned');
});
