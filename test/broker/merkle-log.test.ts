import { randomBytes } from 'node:crypto';
import t from 'tap';
import { ChainStore, type Registration } from '../../broker/chain-store.js';
import { leafHash, merkleRoot } from '../../core/merkle.js';
import { consistencyProof, inclusionProof } from '../../core/merkle-proof.js';
import { verifyConsistency, verifyInclusion } from '../../core/merkle-verify.js';
import { SqliteDb } from '../../ops/sqlite.js';
import { tempDir } from './helpers.js';

type T = { teardown(fn: () => unknown): void };

const reg = (seq: number): Registration => ({
  gateway: 'gw-a',
  seq,
  kid: randomBytes(32),
  signedHeader: randomBytes(40),
  bodyHash: randomBytes(32),
  body: randomBytes(8),
  internal: randomBytes(32),
});

/** A chain of n entries appended in uneven batches, and its leaf hashes kept in memory. */
async function chain(t: T, n: number): Promise<{ path: string; leaves: Uint8Array[] }> {
  const path = `${tempDir(t)}/chain.db`;
  const s = await ChainStore.open(path, { synchronous: 'OFF' });
  const leaves: Uint8Array[] = [];
  for (let seq = 1; seq <= n; ) {
    const batch = Array.from({ length: Math.min(1 + (seq % 37), n - seq + 1) }, (_, i) =>
      reg(seq + i),
    );
    for (const e of await s.append(batch, seq)) leaves.push(leafHash(e.entryHash));
    seq += batch.length;
  }
  await s.close();
  return { path, leaves };
}

async function open(t: T, path: string): Promise<ChainStore> {
  const s = await ChainStore.open(path, { synchronous: 'OFF' });
  t.teardown(() => s.close());
  return s;
}

/** A second connection that edits the database as an intruder would: triggers dropped. */
async function tamper(path: string, ...sql: string[]): Promise<void> {
  const raw = await SqliteDb.open(path);
  try {
    await raw.exec(
      'DROP TRIGGER IF EXISTS merkle_nodes_no_update; DROP TRIGGER IF EXISTS merkle_nodes_no_delete;',
    );
    for (const q of sql) await raw.run(q);
  } finally {
    await raw.close();
  }
}

const same = (a: Uint8Array[], b: Uint8Array[]) =>
  a.length === b.length && a.every((x, i) => Buffer.compare(x, b[i]!) === 0);

t.test('every (m, n) up to 70: stored-node roots and proofs equal core’s', async (t) => {
  const { path, leaves } = await chain(t, 70);
  const s = await open(t, path);
  let bad = 0;
  for (let n = 1; n <= 70; n++) {
    if (Buffer.compare(await s.rootAt(n), merkleRoot(leaves, 0, n)) !== 0) bad++;
    for (let m = 0; m <= n; m++) {
      if (m >= 1 && !same(await s.inclusionProof(m, n), inclusionProof(leaves, m - 1, n))) bad++;
      if (!same(await s.consistencyProof(m, n), consistencyProof(leaves, m, n))) bad++;
    }
  }
  t.equal(bad, 0);
  t.same(await s.rootAt(0), merkleRoot([]));
});

t.test('random pairs in a chain of 1500 entries', async (t) => {
  const { path, leaves } = await chain(t, 1500);
  const s = await open(t, path);
  let bad = 0;
  for (let i = 0; i < 150; i++) {
    const n = 1 + Math.floor(Math.random() * 1500);
    const m = Math.floor(Math.random() * (n + 1));
    const h = 1 + Math.floor(Math.random() * n);
    if (!same(await s.inclusionProof(h, n), inclusionProof(leaves, h - 1, n))) bad++;
    if (!same(await s.consistencyProof(m, n), consistencyProof(leaves, m, n))) bad++;
    if (Buffer.compare(await s.rootAt(n), merkleRoot(leaves, 0, n)) !== 0) bad++;
  }
  t.equal(bad, 0);
  t.same(s.root(), merkleRoot(leaves));
});

t.test(
  'a schema 1 database gets its node table built at open, also after an interrupted build',
  async (t) => {
    const { path, leaves } = await chain(t, 45);
    const count = async () => {
      const raw = await SqliteDb.open(path);
      const r = await raw.get<{ n: number }>('SELECT count(*) AS n FROM merkle_nodes');
      const v = await raw.get<{ v: string }>("SELECT v FROM meta WHERE k = 'schema'");
      await raw.close();
      return [r?.n, v?.v];
    };
    // Schema 1: no nodes at all.
    await tamper(path, 'DELETE FROM merkle_nodes', "UPDATE meta SET v = '1' WHERE k = 'schema'");
    t.same(await count(), [0, '1']);
    let s = await ChainStore.open(path);
    t.same(await s.inclusionProof(7, 30), inclusionProof(leaves, 6, 30));
    await s.close();
    // 45 leaves: 2·45 − popcount(45) = 86 nodes.
    t.same(await count(), [86, '2'], 'all nodes written, schema 2 recorded');
    // A build cut short: a prefix of each level is there, schema still 1.
    await tamper(
      path,
      'DELETE FROM merkle_nodes WHERE (idx + 1) * (1 << level) > 20',
      "UPDATE meta SET v = '1' WHERE k = 'schema'",
    );
    s = await ChainStore.open(path);
    t.same(await s.consistencyProof(13, 44), consistencyProof(leaves, 13, 44));
    await s.close();
    t.same(await count(), [86, '2']);
  },
);

t.test('an unknown schema version is refused', async (t) => {
  const { path } = await chain(t, 1);
  await tamper(path, "UPDATE meta SET v = '9' WHERE k = 'schema'");
  await t.rejects(ChainStore.open(path), { code: 'NOTARY_STORE', message: /schema 9/ });
});

t.test('a node edited while the notary runs: no proof is served from it', async (t) => {
  const { path, leaves } = await chain(t, 11);
  const s = await open(t, path);
  const root11 = s.root();
  const root7 = await s.rootAt(7);
  // Node (0, 4) is leaf 5: a sibling in the proof of height 6 and in PROOF(5, 11).
  await tamper(path, 'UPDATE merkle_nodes SET hash = randomblob(32) WHERE level = 0 AND idx = 4');
  await t.rejects(s.inclusionProof(6, 11), { code: 'NOTARY_CORRUPT', height: 11 });
  await t.rejects(s.inclusionProof(6, 7), { code: 'NOTARY_CORRUPT', height: 7 });
  // The old root of PROOF(5, 11) reads node (0, 4) too: caught against entry 5's log_root.
  await t.rejects(s.consistencyProof(5, 11), { code: 'NOTARY_CORRUPT', height: 5 });
  // Proofs that do not read the edited node are still right, and verify.
  const p5 = await s.inclusionProof(5, 11);
  t.ok(verifyInclusion(4, 11, leaves[4]!, p5, root11).ok);
  const c = await s.consistencyProof(4, 11);
  t.ok(verifyConsistency(4, 11, merkleRoot(leaves, 0, 4), root11, c).ok);
  t.same(await s.rootAt(7), root7, 'the root of 7 does not read node (0, 4)');
  // Node (2, 0) is part of the root of 7: that root no longer matches entry 7's log_root.
  await tamper(path, 'UPDATE merkle_nodes SET hash = randomblob(32) WHERE level = 2 AND idx = 0');
  await t.rejects(s.rootAt(7), { code: 'NOTARY_CORRUPT', height: 7 });
  t.same(s.root(), root11, 'the current root is kept in memory');
});

t.test('nodes edited by hand are named at open by the height that wrote them', async (t) => {
  const cases: [string, number, RegExp][] = [
    // Node (2, 1) covers leaves 4..7: written with entry 8.
    [
      'UPDATE merkle_nodes SET hash = randomblob(32) WHERE level = 2 AND idx = 1',
      8,
      /not the hash/,
    ],
    ['DELETE FROM merkle_nodes WHERE level = 1 AND idx = 4', 10, /missing/],
    // The last node of a schema 2 log is not rebuilt silently.
    ['DELETE FROM merkle_nodes WHERE level = 0 AND idx = 12', 13, /missing/],
    ['INSERT INTO merkle_nodes (level, idx, hash) VALUES (0, 13, randomblob(32))', 14, /beyond/],
  ];
  for (const [sql, height, why] of cases) {
    const { path } = await chain(t, 13);
    await tamper(path, sql);
    await t.rejects(ChainStore.open(path), { code: 'NOTARY_CORRUPT', height, message: why }, sql);
  }
});
