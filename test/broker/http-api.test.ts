import { createPublicKey } from 'node:crypto';
import t from 'tap';
import { decodeEntry, entryHash } from '../../core/entry.js';
import { leafHash } from '../../core/merkle.js';
import { verifyConsistency, verifyInclusion } from '../../core/merkle-verify.js';
import { verifyCheckpoint, verifyReceipt } from '../../core/receipt.js';
import { SqliteDb } from '../../ops/sqlite.js';
import { createTestPki } from '../helpers/pki.js';
import { BlockMaker, startNotary } from './helpers.js';

const pki = await createTestPki(t);
const me = await pki.participant('notary', 'notary-1');
const gw1 = await pki.participant('gateway', 'gw-1');
const notaryKey = createPublicKey(me.signing.pem);
const notary = await startNotary(t, pki, me, [gw1]);
const m = new BlockMaker('gw-1', await pki.signer(gw1));
for (let i = 0; i < 11; i++) {
  const a = await notary.registrar.submit('gw-1', (await m.next()).bytes);
  if (a.kind !== 'registered') throw new Error(`setup: ${JSON.stringify(a)}`);
}
await notary.checkpointer.checkpoint();
const base = `http://127.0.0.1:${notary.http!.port}`;
/** The union of the API's JSON fields this test reads. */
interface Json {
  checkpoint: string;
  root1: string;
  root: string;
  proof: string[];
  entryHash: string;
  height: number;
  entries: { entry: string; receipt: string | null }[];
  signedHeader: string;
  body: string;
}
const get = async (path: string): Promise<{ status: number; json: Json; text: string }> => {
  const r = await fetch(base + path);
  const text = await r.text();
  const json = (r.headers.get('content-type')?.includes('json') ? JSON.parse(text) : {}) as Json;
  return { status: r.status, json, text };
};
const b = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

t.test('checkpoint and consistency proofs verify with core', async (t) => {
  const cp = await get('/checkpoint');
  t.equal(cp.status, 200);
  const v = verifyCheckpoint(b(cp.json.checkpoint), notaryKey, me.signing.kid);
  t.ok(v.ok && v.value.size === 11, 'signed checkpoint of size 11');
  if (!v.ok) return;
  for (const from of [0, 1, 4, 7, 11]) {
    const c = await get(`/proof/consistency?from=${from}&to=11`);
    t.equal(c.status, 200);
    const ok = verifyConsistency(from, 11, b(c.json.root1), v.value.logRoot, c.json.proof.map(b));
    t.ok(ok.ok, `consistency ${from} -> 11`);
  }
});

t.test('inclusion proofs by height and by internal hash verify with core', async (t) => {
  const cp = await get('/checkpoint');
  const v = verifyCheckpoint(b(cp.json.checkpoint), notaryKey, me.signing.kid);
  if (!v.ok) return t.fail('checkpoint');
  for (const height of [1, 6, 11]) {
    const p = await get(`/proof/inclusion?height=${height}`);
    t.equal(p.status, 200);
    const leaf = leafHash(b(p.json.entryHash));
    t.ok(
      verifyInclusion(height - 1, 11, leaf, p.json.proof.map(b), v.value.logRoot).ok,
      `h=${height}`,
    );
  }
  const internal = Buffer.from(m.sealed[4]!.hash).toString('hex');
  const p = await get(`/proof/inclusion?internal=${internal}&size=8`);
  t.equal(p.json.height, 5);
  t.ok(
    verifyInclusion(4, 8, leafHash(b(p.json.entryHash)), p.json.proof.map(b), b(p.json.root)).ok,
  );
  const e = await get('/entries?from=5&to=5');
  const entry = b(e.json.entries[0]!.entry);
  t.same(entryHash(entry), b(p.json.entryHash), 'entry hashes to the proven leaf');
  const d = decodeEntry(entry);
  t.ok(d.ok && Buffer.from(d.value.internal).toString('hex') === internal);
  t.ok(e.json.entries[0]!.receipt, 'entry comes with its receipt');
});

t.test('blocks, errors, metrics, health', async (t) => {
  const blk = await get('/block/3');
  t.equal(blk.status, 200);
  t.same(b(blk.json.signedHeader), m.sealed[2]!.block.signedHeader);
  t.same(b(blk.json.body), m.sealed[2]!.block.body);
  t.equal((await get('/block/99')).status, 404);
  t.equal((await get('/proof/inclusion?height=0')).status, 400);
  t.equal((await get('/proof/inclusion?height=abc')).status, 400);
  t.equal((await get('/proof/consistency?from=5&to=99')).status, 400);
  t.equal((await get('/proof/inclusion?internal=00')).status, 400);
  t.equal((await get('/nothing')).status, 404);
  const metrics = await get('/metrics');
  t.match(metrics.text, /medchain_notary_entries 11/);
  t.match(metrics.text, /medchain_notary_sign_seconds_count/);
  for (const probe of ['/healthz', '/readyz']) {
    const r = await get(probe);
    t.equal(r.status, 200, probe);
    t.same(JSON.parse(r.text), {
      service: 'notary',
      status: 'ok',
      ok: true,
      reasons: [],
      detail: { size: 11 },
    });
  }
  const post = await fetch(`${base}/checkpoint`, { method: 'POST' });
  t.equal(post.status, 405);
});

t.test('feed by range and certificates by kid, for replicas', async (t) => {
  interface Feed {
    size: number;
    items: {
      height: number;
      entry: string;
      signedHeader: string;
      body: string;
      erased: unknown;
      receipt: string | null;
    }[];
  }
  const f = (await get('/feed?from=2&to=4')).json as unknown as Feed;
  t.equal(f.size, 11);
  t.same(
    f.items.map((i) => i.height),
    [2, 3, 4],
  );
  const third = f.items[1]!;
  t.same(b(third.signedHeader), m.sealed[2]!.block.signedHeader);
  t.same(b(third.body), m.sealed[2]!.block.body);
  t.equal(third.erased, null);
  t.ok(third.receipt && verifyReceipt(b(third.receipt), notaryKey, me.signing.kid).ok);
  const e = await get('/entries?from=3&to=3');
  t.equal(third.entry, e.json.entries[0]!.entry, 'the same entry bytes as /entries');
  const beyond = (await get('/feed?from=20')).json as unknown as Feed;
  t.same(beyond, { size: 11, items: [] }, 'beyond the chain: empty, with the size');
  t.equal(((await get('/feed?from=11')).json as unknown as Feed).items.length, 1);
  t.equal((await get('/feed?from=0')).status, 400);
  t.equal((await get('/feed?from=5&to=3')).status, 400);
  t.equal((await get('/feed?from=1&to=1001')).status, 400);
  t.equal((await get('/feed?from=x')).status, 400);

  const kid = Buffer.from(gw1.signing.kid).toString('hex');
  const c = (await get(`/certificate/${kid}`)).json as unknown as { der: string };
  t.same(b(c.der), gw1.signing.der);
  t.equal((await get(`/certificate/${'0'.repeat(64)}`)).status, 404);
  t.equal((await get('/certificate/abc')).status, 404);
});

// Last: it edits the notary's database.
t.test('a Merkle node edited by hand: the API answers 500, never a wrong proof', async (t) => {
  const raw = await SqliteDb.open(notary.store.db.path);
  await raw.exec('DROP TRIGGER merkle_nodes_no_update');
  // Node (0, 4), leaf 5: a sibling in the path of height 6 and in PROOF(5, 11).
  await raw.run('UPDATE merkle_nodes SET hash = randomblob(32) WHERE level = 0 AND idx = 4');
  await raw.close();
  t.equal((await get('/proof/inclusion?height=6')).status, 500);
  t.equal((await get('/proof/consistency?from=5&to=11')).status, 500);
  const p = await get('/proof/inclusion?height=5');
  t.equal(p.status, 200, 'a proof that does not read the node is served');
  const cp = verifyCheckpoint(b((await get('/checkpoint')).json.checkpoint), notaryKey);
  if (!cp.ok) return t.fail('checkpoint');
  t.ok(
    verifyInclusion(4, 11, leafHash(b(p.json.entryHash)), p.json.proof.map(b), cp.value.logRoot).ok,
  );
});
