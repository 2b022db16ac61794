/**
 * medchain replica against a real notary (SoftHSM-signed receipts and checkpoints, aedes
 * over TLS, the HTTP API): catch-up by ranges then the live MQTT feed, a copy whose export
 * verifies, forks reported with both signed checkpoints, tampering refused at its height,
 * resume from the database, a notary that is down retried with backoff.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { writeExport } from '../../broker/export.js';
import { verifyExport } from '../../broker/export-verify.js';
import { HttpApi } from '../../broker/http-api.js';
import { NotaryMetrics } from '../../broker/metrics.js';
import type { Notary } from '../../broker/notary.js';
import type { Replica, ReplicaFork } from '../../broker/replica.js';
import type { AcceptedCheckpoint } from '../../broker/replica-checkpoints.js';
import { ReplicaCode, type ReplicaError } from '../../broker/replica-errors.js';
import { decodeForkFile, encodeForkFile, type ForkFile } from '../../broker/replica-evidence.js';
import { verifyForkFile } from '../../broker/replica-fork-verify.js';
import { ReplicaStore } from '../../broker/replica-store.js';
import { equalBytes } from '../../core/bytes.js';
import { decodeSign1 } from '../../core/cose-decode.js';
import { encodeDet } from '../../core/det-cbor.js';
import { encodeEntry } from '../../core/entry.js';
import { verifyConsistency } from '../../core/merkle-verify.js';
import { decodeCheckpointPayload } from '../../core/receipt.js';
import { createTestPki } from '../helpers/pki.js';
import { restartablePort } from '../helpers/sim-broker.js';
import { BlockMaker, startNotary, tempDir } from './helpers.js';
import {
  type FeedJson,
  flip,
  forgeCheckpoint,
  startReplica,
  tamperingProxy,
  waitFor,
} from './replica-helpers.js';

const N = 'notary-1';
// Nine subtests, each with its own notary and token signers: near 120 s on a busy machine.
t.setTimeout(300_000);
const pki = await createTestPki(t);
const me = await pki.participant('notary', N);
const gw1 = await pki.participant('gateway', 'gw-1');
const gw2 = await pki.participant('gateway', 'gw-2');
const reader = await pki.participant('reader', 'replica-1');
const s1 = await pki.signer(gw1);
const s2 = await pki.signer(gw2);
/** The test owns the notary's token: it can make the notary sign anything. */
const notarySigner = await pki.signer(me);

/** Registers `n` blocks alternating between two gateways. */
async function register(notary: Notary, makers: BlockMaker[], n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const m = makers[notary.store.size % makers.length]!;
    const a = await notary.registrar.submit(m.gatewayId, (await m.next()).bytes);
    if (a.kind !== 'registered') throw new Error(JSON.stringify(a));
  }
}

const makers = () => [new BlockMaker('gw-1', s1), new BlockMaker('gw-2', s2)];
const api = (n: Notary) => `http://127.0.0.1:${n.http!.port}`;
const sizeOf = (cp: Uint8Array) => {
  const m = decodeSign1(cp);
  const p = m.ok ? decodeCheckpointPayload(m.msg.payload) : undefined;
  return p?.ok ? p.value.size : -1;
};
const until = (r: Replica, size: number) =>
  r.size >= size ? Promise.resolve(r.size) : waitFor<number>(r, 'synced', (s) => s >= size);

/** The notary signs a checkpoint at its size and the replica accepts it (an export ends at one). */
async function checkpointed(notary: Notary, r: Replica, size: number): Promise<void> {
  const accepted = waitFor<AcceptedCheckpoint>(r, 'checkpoint', (c) => c.size === size);
  await notary.checkpointer.checkpoint();
  r.kick();
  await accepted;
}

async function exportOf(t: Parameters<typeof tempDir>[0], r: Replica) {
  const out = join(tempDir(t), 'replica.cbor');
  await writeExport(r.store.chain, out);
  return verifyExport(new Uint8Array(readFileSync(out)), { root: pki.rootPem });
}

t.test('catches up by ranges, follows the MQTT feed, its export verifies', async (t) => {
  const notary = await startNotary(t, pki, me, [gw1, gw2], {
    checkpoint: { everyEntries: 4, everyMs: 60_000 },
  });
  const mk = makers();
  await register(notary, mk, 6);
  await notary.store.eraseBody(3, 'erasure request #7', Date.now());
  const dir = tempDir(t);
  const r = await startReplica(t, {
    notaryUrl: api(notary),
    dbPath: join(dir, 'replica.db'),
    root: pki.rootPem,
    // No polling: after the first round only the MQTT feed can bring new entries.
    pollMs: 600_000,
    mqtt: {
      url: `mqtts://127.0.0.1:${notary.broker.port}`,
      clientId: 'replica-1-replica',
      tls: { key: reader.tls.keyPem, cert: reader.tls.pem, ca: pki.rootPem },
    },
  });
  t.equal(await until(r, 6), 6, 'caught up over HTTP');
  t.equal(r.notaryId, N, 'notary id learnt from its certificate');
  // Live: 5 more, published on the chain feed only.
  const synced = until(r, 11);
  const checkpoint = waitFor<AcceptedCheckpoint>(r, 'checkpoint', (c) => c.size >= 8);
  await register(notary, mk, 5);
  t.equal(await synced, 11, 'followed the live feed');
  t.ok((await checkpoint).size >= 8, 'the retained/published checkpoint was accepted');
  t.equal(r.state, 'following');

  // An unreadable chain item is counted and answered by a catch-up round.
  notary.broker.aedes.publish(
    {
      cmd: 'publish',
      topic: `med/v1/notary/${N}/chain`,
      payload: Buffer.from([1, 2, 3]),
      qos: 1,
      retain: false,
      dup: false,
    },
    () => undefined,
  );
  await waitFor(r, 'synced');
  // A readable item that does not verify (another header than its entry registers) is
  // refused at its height; the catch-up round that follows finds the copy complete.
  const fake = encodeDet([
    1,
    encodeEntry({
      height: 12,
      prev: notary.store.head,
      internal: new Uint8Array(32).fill(1),
      submitter: 'gw-1',
      registeredAt: Date.now(),
    }),
    mk[0]!.sealed[0]!.block.signedHeader,
    mk[0]!.sealed[0]!.block.body,
    new Uint8Array([1]),
  ]);
  const refusedFake = waitFor<ReplicaError>(r, 'refused');
  const recovered = refusedFake.then(() => waitFor(r, 'synced'));
  notary.broker.aedes.publish(
    {
      cmd: 'publish',
      topic: `med/v1/notary/${N}/chain`,
      payload: Buffer.from(fake),
      qos: 1,
      retain: false,
      dup: false,
    },
    () => undefined,
  );
  const e = await refusedFake;
  t.same([e.code, e.check, e.height], [ReplicaCode.Verify, 'internal', 12]);
  await recovered;
  t.equal(r.size, 11, 'nothing of it stored');
  t.equal(r.state, 'following', 'the HTTP round cleared the refusal');
  const m = await r.metrics.registry.metrics();
  t.match(m, /medchain_replica_refusals_total\{check="format"\} 1/);
  t.match(m, /medchain_replica_entries_followed_total 11/);
  t.match(m, /medchain_replica_entries 11/);
  t.match(m, /medchain_replica_lag_entries 0/);

  await checkpointed(notary, r, 11);
  const v = await exportOf(t, r);
  t.ok(v.ok, JSON.stringify(v));
  if (v.ok) {
    t.equal(v.size, 11);
    t.same(v.erased, [3], 'the erasure is copied, reported by verify');
    t.ok(v.checkpoints >= 1, 'accepted checkpoints are in the export');
  }
});

const mqttOf = (notary: Notary) => ({
  url: `mqtts://127.0.0.1:${notary.broker.port}`,
  clientId: 'replica-1-replica',
  tls: { key: reader.tls.keyPem, cert: reader.tls.pem, ca: pki.rootPem },
});

t.test('a forked checkpoint on the MQTT topic is reported with both checkpoints', async (t) => {
  const notary = await startNotary(t, pki, me, [gw1, gw2], {
    checkpoint: { everyEntries: 1000, everyMs: 600_000 },
  });
  await register(notary, makers(), 5);
  const a = (await notary.checkpointer.checkpoint())!;
  const dbPath = join(tempDir(t), 'replica.db');
  const r = await startReplica(t, {
    notaryUrl: api(notary),
    dbPath,
    root: pki.rootPem,
    pollMs: 600_000,
    mqtt: mqttOf(notary),
  });
  await waitFor<AcceptedCheckpoint>(r, 'checkpoint', (c) => c.size === 5);

  // A checkpoint whose signature does not verify is refused, not taken as evidence.
  const bad = a.slice();
  bad[bad.length - 1]! ^= 0x01;
  const refused = waitFor<ReplicaError>(r, 'refused', (e) => e.check === 'checkpoint');
  notary.broker.publishCheckpoint(bad);
  t.equal((await refused).code, ReplicaCode.Verify);
  t.equal(r.state, 'following', 'an unsigned claim is no fork');

  const forged = await forgeCheckpoint(notarySigner, N, 5, 7);
  const forked = waitFor<ReplicaFork>(r, 'fork');
  notary.broker.publishCheckpoint(forged);
  const fork = await forked;
  t.equal(fork.reason, 'same-size');
  t.equal(fork.size, 5);
  t.equal(fork.first.kind, 'checkpoint');
  t.ok(equalBytes(fork.first.bytes, a), 'evidence: the checkpoint accepted before');
  t.ok(equalBytes(fork.second, forged), 'evidence: the forked checkpoint');
  t.equal(r.state, 'forked');
  const file = decodeForkFile(new Uint8Array(readFileSync(fork.file)));
  t.equal(file.notaryId, N);
  t.ok(equalBytes(file.first.bytes, a) && equalBytes(file.second, forged), 'written to a file');
  t.ok(equalBytes(file.certificates[0]!, me.signing.der), 'with the notary certificate');
  const raw = new Uint8Array(readFileSync(fork.file));
  const proof = await verifyForkFile(raw, pki.rootPem);
  t.ok(proof.ok && proof.proven, `anyone can check it with the root: ${JSON.stringify(proof)}`);
  const altered = raw.slice();
  // The last byte of the forked checkpoint's signature.
  altered[Buffer.from(raw).indexOf(Buffer.from(forged)) + forged.length - 1]! ^= 0x01;
  const broken = await verifyForkFile(altered, pki.rootPem);
  t.match(broken, { ok: false, detail: /second: signature/ }, 'an altered evidence file fails');
  t.notOk((await verifyForkFile(raw, reader.tls.pem)).ok, 'under another root it fails');
  const m = await r.metrics.registry.metrics();
  t.match(m, /medchain_replica_forks_total 1/);
  t.match(m, /medchain_replica_forked 1/);

  await r.stop();
  const again = await startReplica(t, { notaryUrl: api(notary), dbPath });
  t.equal(again.state, 'forked', 'a copy holding fork evidence reopens forked');
  t.equal((await again.store.forks()).length, 1, 'the evidence is stored');
});

t.test('a second face of the notary showing another head is a fork (not a prefix)', async (t) => {
  const notary = await startNotary(t, pki, me, [gw1, gw2], {
    checkpoint: { everyEntries: 1000, everyMs: 600_000 },
  });
  const mk = makers();
  await register(notary, mk, 6);
  let shown = (await notary.checkpointer.checkpoint())!;
  const face = await HttpApi.start({
    store: notary.store,
    metrics: new NotaryMetrics(),
    latestCheckpoint: () => shown,
    ready: () => true,
    port: 0,
  });
  t.teardown(() => face.close());
  const r = await startReplica(t, {
    notaryUrl: `http://127.0.0.1:${face.port}`,
    dbPath: join(tempDir(t), 'replica.db'),
    root: pki.rootPem,
    pollMs: 600_000,
  });
  await waitFor<AcceptedCheckpoint>(r, 'checkpoint', (c) => c.size === 6);
  await register(notary, mk, 4);
  const b = (await notary.checkpointer.checkpoint())!;
  shown = b;
  const second = waitFor<AcceptedCheckpoint>(r, 'checkpoint', (c) => c.size === 10);
  r.kick();
  await second;
  shown = await forgeCheckpoint(notarySigner, N, 8, 3);
  const forked = waitFor<ReplicaFork>(r, 'fork');
  r.kick();
  const fork = await forked;
  t.equal(fork.reason, 'not-prefix');
  t.ok(equalBytes(fork.first.bytes, b), 'against the larger accepted checkpoint');
  t.ok(equalBytes(fork.second, shown));
  // The proof is checkable by anyone: B's tree has another root at size 8.
  const root8 = await notary.store.rootAt(8);
  t.ok(equalBytes(fork.proof[0]!, root8), 'the larger tree at size 8');
  t.ok(
    verifyConsistency(8, 10, root8, await notary.store.rootAt(10), fork.proof.slice(1)).ok,
    'proof verifies',
  );
  t.notOk(equalBytes(root8, new Uint8Array(32).fill(4)), 'and names another root than the fork');
  t.equal(sizeOf(fork.second), 8);
  const v = await verifyForkFile(new Uint8Array(readFileSync(fork.file)), pki.rootPem);
  t.ok(v.ok && v.proven, JSON.stringify(v));
});

t.test('a later checkpoint the notary cannot prove consistent is a fork', async (t) => {
  const notary = await startNotary(t, pki, me, [gw1, gw2], {
    checkpoint: { everyEntries: 1000, everyMs: 600_000 },
  });
  const mk = makers();
  await register(notary, mk, 6);
  const a = (await notary.checkpointer.checkpoint())!;
  const r = await startReplica(t, {
    notaryUrl: api(notary),
    dbPath: join(tempDir(t), 'replica.db'),
    root: pki.rootPem,
    pollMs: 600_000,
  });
  await waitFor<AcceptedCheckpoint>(r, 'checkpoint', (c) => c.size === 6);
  await register(notary, mk, 4);
  const forged = await forgeCheckpoint(notarySigner, N, 10, 5);
  const forked = waitFor<ReplicaFork>(r, 'fork');
  await r.offerCheckpoint(forged);
  const fork = await forked;
  t.equal(fork.reason, 'inconsistent');
  t.ok(equalBytes(fork.first.bytes, a), 'against the last accepted checkpoint');
  t.match(fork.detail, /root2-mismatch/);
  t.equal(r.size, 6, 'judged before the entries were fetched');
  const v = await verifyForkFile(new Uint8Array(readFileSync(fork.file)), pki.rootPem);
  t.ok(v.ok && !v.proven, 'signed by the notary, yet not a proof by itself');
});

t.test(
  'tampered entry, header, block or receipt: refused at its height, nothing after',
  async (t) => {
    const notary = await startNotary(t, pki, me, [gw1, gw2]);
    await register(notary, makers(), 8);
    const proxy = await tamperingProxy(t, () => api(notary));
    const cases: [string, (i: FeedJson['items'][number]) => void][] = [
      ['entry', (i) => (i.entry = flip(i.entry, 6))],
      ['internal', (i) => (i.signedHeader = flip(i.signedHeader, -3))],
      ['block', (i) => (i.body = flip(i.body, 40))],
      ['receipt', (i) => (i.receipt = flip(i.receipt, -1))],
    ];
    let last: Replica | undefined;
    for (const [check, edit] of cases) {
      proxy.tamper = (f) => {
        for (const i of f.items) if (i.height === 5) edit(i);
      };
      const r = await startReplica(t, {
        notaryUrl: proxy.url,
        dbPath: join(tempDir(t), 'replica.db'),
        root: pki.rootPem,
        pollMs: 100,
      });
      const e = await waitFor<ReplicaError>(r, 'refused');
      t.same([e.code, e.check, e.height], [ReplicaCode.Verify, check, 5], `${check} refused at 5`);
      t.equal(r.size, 4, 'the heights before it are kept');
      t.equal(await r.store.chain.entry(5), undefined, 'nothing from that height on is stored');
      t.equal(r.state, 'refused');
      t.match(
        await r.metrics.registry.metrics(),
        new RegExp(`refusals_total\\{check="${check}"\\}`),
      );
      last = r;
    }
    proxy.tamper = undefined;
    t.equal(await until(last!, 8), 8, 'once the notary serves the real bytes, the copy completes');
    await checkpointed(notary, last!, 8);
    const v = await exportOf(t, last!);
    t.ok(v.ok && v.size === 8, JSON.stringify(v));
  },
);

t.test('resumes from its database after a restart, completing a cut-short batch', async (t) => {
  const notary = await startNotary(t, pki, me, [gw1, gw2]);
  const mk = makers();
  await register(notary, mk, 5);
  const proxy = await tamperingProxy(t, () => api(notary));
  const dbPath = join(tempDir(t), 'replica.db');
  const first = await startReplica(t, { notaryUrl: proxy.url, dbPath, root: pki.rootPem });
  await until(first, 5);
  await first.stop();
  await register(notary, mk, 3);
  // A crash between the entries' and the receipts' transactions leaves height 6 without
  // its receipt: put it there as the replica's own store would have.
  const store = await ReplicaStore.open(dbPath);
  const e6 = (await notary.store.entry(6))!;
  const b6 = (await notary.store.block(6))!;
  await store.chain.append(
    [
      {
        gateway: b6.gateway,
        seq: b6.seq,
        kid: b6.kid,
        signedHeader: b6.signedHeader,
        bodyHash: b6.bodyHash,
        body: b6.body,
        internal: e6.entry.internal,
      },
    ],
    e6.entry.registeredAt,
  );
  t.same(await store.incomplete(), [6]);
  await store.close();
  proxy.paths.length = 0;
  // No --root: the database pinned it.
  const again = await startReplica(t, { notaryUrl: proxy.url, dbPath });
  t.equal(await until(again, 8), 8);
  t.ok(proxy.paths.includes('/feed?from=6&to=6'), 'the missing receipt was fetched');
  t.ok(proxy.paths.includes('/feed?from=7&to=1006'), 'then the chain from where the copy ends');
  t.notOk(
    proxy.paths.some((p) => p.startsWith('/feed?from=1&')),
    'nothing fetched twice',
  );
  t.same(await again.store.incomplete(), []);
  await checkpointed(notary, again, 8);
  const v = await exportOf(t, again);
  t.ok(v.ok && v.size === 8 && v.unreceipted.length === 0, JSON.stringify(v));
});

t.test('a notary that is down is retried with backoff, then followed', async (t) => {
  const port = await restartablePort();
  const r = await startReplica(t, {
    notaryUrl: `http://127.0.0.1:${port}`,
    dbPath: join(tempDir(t), 'replica.db'),
    root: pki.rootPem,
    notaryId: N,
  });
  const delays: number[] = [];
  await waitFor<{ delayMs: number; error: ReplicaError }>(r, 'retry', (x) => {
    delays.push(x.delayMs);
    t.equal(x.error.code, ReplicaCode.Source);
    return delays.length === 4;
  });
  t.same(delays, [50, 100, 200, 400], 'exponential backoff, capped');
  t.equal(r.state, 'retrying');
  t.match(await r.metrics.registry.metrics(), /medchain_replica_source_errors_total [4-9]/);
  const notary = await startNotary(t, pki, me, [gw1, gw2], { http: { port } });
  await register(notary, makers(), 3);
  t.equal(await until(r, 3), 3, 'followed once the notary is up');
  t.equal(r.state, 'following');
});

t.test('bad options are REPLICA_CONFIG before anything is followed', async (t) => {
  const dir = tempDir(t);
  await t.rejects(
    startReplica(t, { notaryUrl: 'ftp://x', dbPath: join(dir, 'a.db'), root: pki.rootPem }),
    { code: ReplicaCode.Config, message: /http\(s\) URL expected/ },
  );
  await t.rejects(startReplica(t, { notaryUrl: 'http://127.0.0.1:1', dbPath: join(dir, 'b.db') }), {
    code: ReplicaCode.Config,
    message: /records no Trent root yet/,
  });
  const dbPath = join(dir, 'c.db');
  const r = await startReplica(t, {
    notaryUrl: 'http://127.0.0.1:1',
    dbPath,
    root: pki.rootPem,
    notaryId: N,
  });
  await waitFor(r, 'retry');
  await r.stop();
  await t.rejects(
    startReplica(t, { notaryUrl: 'http://127.0.0.1:1', dbPath, root: reader.tls.pem }),
    { code: ReplicaCode.Config, message: /another Trent root/ },
    'a copy pinned to one root refuses another',
  );
  await t.rejects(
    startReplica(t, { notaryUrl: 'http://127.0.0.1:1', dbPath, notaryId: 'notary-2' }),
    { code: ReplicaCode.Config, message: /replicates notary 'notary-1', not 'notary-2'/ },
  );
});

t.test(
  'a block signed with a certificate revoked before its registration is refused',
  async (t) => {
    const gw3 = await pki.participant('gateway', 'gw-3');
    // The notary never got this CRL and registered the blocks; the replica has it.
    const notary = await startNotary(t, pki, me, [gw1, gw3]);
    const a = new BlockMaker('gw-1', s1);
    const c = new BlockMaker('gw-3', await pki.signer(gw3));
    for (const [id, mk] of [
      ['gw-1', a],
      ['gw-3', c],
      ['gw-1', a],
    ] as const) {
      const ans = await notary.registrar.submit(id, (await mk.next()).bytes);
      if (ans.kind !== 'registered') throw new Error(JSON.stringify(ans));
    }
    await pki.ca.revoke(gw3.signing.serial, 'keyCompromise', new Date(Date.now() - 600_000));
    const crl = await pki.writeCrl();
    const r = await startReplica(t, {
      notaryUrl: api(notary),
      dbPath: join(tempDir(t), 'replica.db'),
      root: pki.rootPem,
      crl: new Uint8Array(crl.rawData),
    });
    const e = await waitFor<ReplicaError>(r, 'refused');
    t.same([e.check, e.height], ['certificate', 2]);
    t.match(e.message, /revoked/);
    t.equal(r.size, 1, 'nothing from the revoked block on');
  },
);

t.test('a checkpoint that disagrees with the receipt at its size is a fork', async (t) => {
  const notary = await startNotary(t, pki, me, [gw1, gw2], {
    checkpoint: { everyEntries: 1000, everyMs: 600_000 },
  });
  await register(notary, makers(), 10);
  const r = await startReplica(t, {
    notaryUrl: api(notary),
    dbPath: join(tempDir(t), 'replica.db'),
    root: pki.rootPem,
    pollMs: 600_000,
  });
  await until(r, 10);
  const forged = await forgeCheckpoint(notarySigner, N, 8, 11);
  const forked = waitFor<ReplicaFork>(r, 'fork');
  await r.offerCheckpoint(forged);
  const fork = await forked;
  t.equal(fork.reason, 'receipt');
  t.equal(fork.first.kind, 'receipt');
  t.ok(equalBytes(fork.first.bytes, (await notary.store.receipt(8))!), 'the receipt of entry 8');
  const v = await verifyForkFile(new Uint8Array(readFileSync(fork.file)), pki.rootPem);
  t.ok(v.ok && v.proven, JSON.stringify(v));
});

t.test('evidence files that prove nothing are refused by verifyForkFile', async (t) => {
  const a = await forgeCheckpoint(notarySigner, N, 5, 1);
  const b = await forgeCheckpoint(notarySigner, N, 5, 2);
  const base: ForkFile = {
    notaryId: N,
    reason: 'same-size',
    size: 5,
    first: { kind: 'checkpoint', bytes: a },
    second: b,
    proof: [],
    certificates: [me.signing.der],
    detectedAt: 1,
    detail: '',
  };
  const check = (f: ForkFile) => verifyForkFile(encodeForkFile(f), pki.rootPem);
  t.match(await check(base), { ok: true, proven: true });
  t.match(await verifyForkFile(new Uint8Array([0x83, 1, 2, 3]), pki.rootPem), {
    ok: false,
    detail: /not a version 1 medchain-fork/,
  });
  t.match(await check({ ...base, first: { kind: 'checkpoint', bytes: b } }), {
    ok: false,
    detail: /the checkpoints agree/,
  });
  t.match(await check({ ...base, certificates: [] }), {
    ok: false,
    detail: /no valid notary certificate/,
  });
  t.match(await check({ ...base, certificates: [gw1.signing.der] }), {
    ok: false,
    detail: /no valid notary certificate/,
  });
  t.match(await check({ ...base, notaryId: 'notary-9' }), { ok: false });
  t.match(await check({ ...base, size: 6 }), { ok: false, detail: /second names size 5/ });
  t.match(await check({ ...base, reason: 'receipt' }), {
    ok: false,
    detail: /reason receipt with a checkpoint/,
  });
  t.match(await check({ ...base, first: { kind: 'receipt', bytes: a } }), {
    ok: false,
    detail: /only for reason receipt/,
  });
  t.match(await check({ ...base, reason: 'not-prefix' }), {
    ok: false,
    detail: /not-prefix: sizes or proof/,
  });
});
