import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ChainStore, type Registration } from '../../broker/chain-store.js';
import { decodeEntry } from '../../core/entry.js';
import { verifyConsistency, verifyInclusion } from '../../core/merkle-verify.js';
import { SqliteDb } from '../../ops/sqlite.js';

function dbPath(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'medchain-chain-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'chain.db');
}

function reg(gateway: string, seq: number): Registration {
  return {
    gateway,
    seq,
    kid: randomBytes(32),
    signedHeader: randomBytes(100),
    bodyHash: randomBytes(32),
    body: randomBytes(50),
    internal: randomBytes(32),
  };
}

t.test('append, reopen, proofs verify with core verifiers', async (t) => {
  const path = dbPath(t);
  const s = await ChainStore.open(path);
  const regs = Array.from({ length: 13 }, (_, i) => reg('gw-a', i + 1));
  await s.append(regs.slice(0, 5), 1000);
  await s.append(regs.slice(5), 2000);
  t.equal(s.size, 13);
  const root7 = await s.rootAt(7);
  const e3 = await s.entry(3);
  t.ok(e3);
  const decoded = decodeEntry(e3!.entryBytes);
  t.ok(decoded.ok && decoded.value.height === 3);
  t.same(e3!.entry.prev, await s.headAt(2), 'prev is H(2)');
  t.same(s.gateway('gw-a')?.lastSeq, 13);
  const proof = await s.inclusionProof(3, 7);
  t.ok(verifyInclusion(2, 7, await s.leafHashAt(3), proof, root7).ok);
  const cons = await s.consistencyProof(7, 13);
  t.ok(verifyConsistency(7, 13, root7, s.root(), cons).ok);
  const root = s.root();
  await s.close();
  const again = await ChainStore.open(path);
  t.teardown(() => again.close());
  t.equal(again.size, 13);
  t.same(again.root(), root, 'reopened log has the same root');
  t.same(again.gateway('gw-a')?.lastSeq, 13);
});

t.test('triggers refuse UPDATE and DELETE; only a logged erasure empties a body', async (t) => {
  const path = dbPath(t);
  const s = await ChainStore.open(path);
  t.teardown(() => s.close());
  await s.append([reg('gw-a', 1), reg('gw-a', 2)], 1000);
  for (const sql of [
    "UPDATE entries SET submitter = 'evil' WHERE height = 1",
    'DELETE FROM entries WHERE height = 2',
    "UPDATE blocks SET body = x'00' WHERE height = 1",
    "UPDATE blocks SET body = x'' WHERE height = 1",
    'DELETE FROM blocks WHERE height = 1',
  ]) {
    await t.rejects(s.db.run(sql), /append-only|refused|only a logged body erasure/, sql);
  }
  await s.putReceipts([{ height: 1, receipt: Uint8Array.of(1) }], 5);
  await t.rejects(s.db.run('DELETE FROM receipts'), /append-only/);
  await s.eraseBody(1, 'retention', 3000);
  const b = await s.block(1);
  t.equal(b?.body.length, 0);
  t.same(b?.erased, { at: 3000, reason: 'retention' });
  t.equal((await s.block(2))?.body.length, 50, 'other bodies untouched');
  await t.rejects(s.eraseBody(1, ' ', 1), /reason/);
});

t.test('receipts: the first stored receipt wins', async (t) => {
  const s = await ChainStore.open(dbPath(t));
  t.teardown(() => s.close());
  await s.append([reg('gw-a', 1)], 1);
  t.same(await s.unreceipted(), [1]);
  const [a] = await s.putReceipts([{ height: 1, receipt: Uint8Array.of(1) }], 1);
  const [b] = await s.putReceipts([{ height: 1, receipt: Uint8Array.of(2) }], 2);
  t.same(a, Uint8Array.of(1));
  t.same(b, Uint8Array.of(1));
  t.same(await s.unreceipted(), []);
});

t.test('a row edited by hand (triggers dropped) is named at open by height', async (t) => {
  const path = dbPath(t);
  const s = await ChainStore.open(path);
  await s.append([reg('gw-a', 1), reg('gw-a', 2), reg('gw-a', 3)], 1000);
  await s.close();
  const raw = await SqliteDb.open(path);
  await raw.exec('DROP TRIGGER entries_no_update');
  await raw.run('UPDATE entries SET registered_at = 999 WHERE height = 2');
  await raw.close();
  await t.rejects(ChainStore.open(path), { code: 'NOTARY_CORRUPT', height: 2 });
});
