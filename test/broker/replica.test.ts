/**
 * medchain replica against a real notary (SoftHSM-signed receipts and checkpoints, aedes
 * over TLS, the HTTP API): catch-up by ranges then the live MQTT feed, a copy whose export
 * verifies, forks reported with both signed checkpoints, tampering refused at its height,
 * resume from the database, a notary that is down retried with backoff.
 */
import { existsSync, readFileSync } from 'node:fs';
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
import { decodeForkFile } from '../../broker/replica-evidence.js';
import { ReplicaStore } from '../../broker/replica-store.js';
import { equalBytes } from '../../core/bytes.js';
import { decodeSign1 } from '../../core/cose-decode.js';
import { verifyConsistency } from '../../core/merkle-verify.js';
import { decodeCheckpointPayload } from '../../core/receipt.js';
import { createTestPki } from '../helpers/pki.js';
import { restartablePort } from '../helpers/sim-broker.js';
import { BlockMaker, startNotary, tempDir } from './helpers.js';
import { flip, forgeCheckpoint, startReplica, tamperingProxy, waitFor } from './replica-helpers.js';

const N = 'notary-1';
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
  const m = await r.metrics.registry.metrics();
  t.match(m, /medchain_replica_refusals_total\{check="format"\} 1/);
  t.match(m, /medchain_replica_entries_followed_total 11/);
  t.match(m, /medchain_replica_entries 11/);
  t.match(m, /medchain_replica_lag_entries 0/);

  const v = await exportOf(t, r);
  t.ok(v.ok, JSON.stringify(v));
  if (v.ok) {
    t.equal(v.size, 11);
    t.same(v.erased, [3], 'the erasure is copied, reported by verify');
    t.ok(v.checkpoints >= 1, 'accepted checkpoints are in the export');
  }
});
