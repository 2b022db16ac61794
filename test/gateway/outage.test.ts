/**
 * A long notary outage, compressed: hundreds of blocks are sealed while the notary is
 * unreachable, then it comes back and everything drains in order, each block receipted
 * once, with the uplink never holding more than its window (the backlog stays in
 * SQLite). And connections dropped while blocks are in flight: whatever mqtt.js does
 * with its outgoing store on reconnect, the uplink resends from SQLite everything
 * without a receipt.
 */
import t, { type Test } from 'tap';
import type { Spool } from '../../gateway/spool.js';
import { metricValue, readingBytes, until } from './helpers.js';
import type { NotaryResponder } from './notary-responder.js';
import { uplinkKit } from './uplink-kit.js';

const kit = await uplinkKit(t);
const WINDOW = 16;

/** Spies on the uplink's reads of blocks: the largest page it ever asked SQLite for. */
function pageSpy(spool: Spool) {
  const seen = { maxLimit: 0, maxRows: 0, reads: 0 };
  const unreceipted = spool.unreceipted.bind(spool);
  const toSubmit = spool.toSubmit.bind(spool);
  const note = <T>(limit: number, rows: T[]) => {
    seen.reads++;
    seen.maxLimit = Math.max(seen.maxLimit, limit);
    seen.maxRows = Math.max(seen.maxRows, rows.length);
    return rows;
  };
  spool.unreceipted = async (from, limit) => note(limit, await unreceipted(from, limit));
  spool.toSubmit = async (from, below, limit) => note(limit, await toSubmit(from, below, limit));
  return seen;
}

/** Every block registered exactly once, in seq order, and each receipt stored once. */
async function drainedInOrder(t: Test, spool: Spool, r: NotaryResponder, total: number) {
  const rows = await spool.db.all<{ hash: Uint8Array }>('SELECT hash FROM blocks ORDER BY seq');
  t.equal(rows.length, total);
  t.equal(r.internals.length, total, 'each block registered once');
  t.ok(
    rows.every((b, i) => Buffer.from(b.hash).equals(Buffer.from(r.internals[i]!))),
    'registered in seq order',
  );
  const receipts = await spool.db.get<{ n: number }>(
    'SELECT count(*) AS n FROM blocks WHERE receipt IS NOT NULL',
  );
  t.equal(receipts?.n, total, 'every block has its receipt');
}

t.test('notary unreachable while 400 blocks are sealed, then back: all drain', async (t) => {
  const { spool, metrics } = await kit.sealedSpool(t, 3);
  const r = await kit.responder(t);
  const port = r.port;
  const u = kit.uplink(t, spool, metrics, port, { window: WINDOW, answerTimeoutMs: 2000 });
  await until('3 receipts', async () => (await kit.receipted(spool)) === 3);
  await r.stop();
  await until('the uplink sees the notary gone', () => !u.connected);

  const BLOCKS = 400;
  const sealer = kit.sealer(spool, metrics);
  for (let i = 0; i < BLOCKS; i++) {
    await spool.insertBatch(
      [2 * i + 1, 2 * i + 2].map((seq) => ({
        deviceId: 'ox-2',
        seq,
        receivedAt: Date.now(),
        bytes: readingBytes('ox-2', seq),
      })),
    );
    await sealer.sealOnce();
    u.kick(); // as the batcher does after each seal: must not queue anything while down
  }
  // The outage as readiness and /metrics report it (clock a minute ahead).
  const down = await u.status(Date.now() + 60_000);
  t.equal(down.connected, false);
  t.ok(down.downForMs >= 60_000, 'down for at least the minute');
  t.equal(down.unreceiptedBlocks, BLOCKS, 'the backlog is counted in SQLite');
  t.ok(down.oldestUnreceiptedAgeMs >= 60_000);
  t.equal(down.inflight, 0, 'nothing held in flight while down');
  t.equal(await metricValue(metrics.uplinkConnected), 0);
  t.equal(await metricValue(metrics.unreceipted), BLOCKS);
  t.ok((await metricValue(metrics.uplinkDownSeconds)) >= 60);
  t.ok((await metricValue(metrics.oldestUnreceiptedSeconds)) >= 60);

  const pages = pageSpy(spool);
  const heapBefore = process.memoryUsage().heapUsed;
  await r.start(port);
  await until(
    'all receipted after the notary came back',
    async () => (await kit.receipted(spool)) === BLOCKS + 3,
    120_000,
  );
  await drainedInOrder(t, spool, r, BLOCKS + 3);
  t.equal(await metricValue(metrics.receipts), BLOCKS + 3, 'each receipt counted once');
  t.ok(r.maxAhead <= WINDOW, `never more than the window ahead of receipts (${r.maxAhead})`);
  t.ok(pages.reads > BLOCKS / WINDOW, `the backlog was read in ${pages.reads} pages`);
  t.ok(pages.maxLimit <= WINDOW && pages.maxRows <= WINDOW, 'no page larger than the window');
  t.comment(
    `heap ${(heapBefore / 2 ** 20).toFixed(1)} MiB before the drain, ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)} MiB after`,
  );
  const up = await u.status();
  t.same(
    { connected: up.connected, downForMs: up.downForMs, unreceiptedBlocks: up.unreceiptedBlocks },
    { connected: true, downForMs: 0, unreceiptedBlocks: 0 },
  );
  t.equal(await metricValue(metrics.uplinkDownSeconds), 0);
});

t.test(
  'connection dropped with blocks in flight: resent from SQLite, receipted once',
  async (t) => {
    const BLOCKS = 200;
    const { spool, metrics } = await kit.sealedSpool(t, BLOCKS);
    const r = await kit.responder(t);
    const drops = new Set([20, 75, 140]);
    r.onSubmission = (seq) => {
      // Cut the link as this block arrives, before it is answered: it and the rest of
      // the window are in flight, in mqtt.js's outgoing store and in ours.
      if (drops.has(seq) && r.drop(`gw-${kit.p.gatewayId}`)) drops.delete(seq);
    };
    kit.uplink(t, spool, metrics, r.port, { window: WINDOW, answerTimeoutMs: 1000 });
    await until('all receipted', async () => (await kit.receipted(spool)) === BLOCKS, 120_000);
    t.equal(drops.size, 0, 'the link was cut three times with blocks in flight');
    await drainedInOrder(t, spool, r, BLOCKS);
    t.equal(await metricValue(metrics.receipts), BLOCKS, 'each receipt counted once');
    t.ok(r.submissions.length > BLOCKS, `resends happened (${r.submissions.length} submissions)`);
    t.ok(r.maxAhead <= WINDOW);
  },
);
