/**
 * A reading proven up to the regional notary: a gateway spool whose block was registered
 * by a real institution notary, anchored into a real regional notary; `medchain prove
 * --notary` fetches the anchor over the notary's HTTP API and `medchain verify-proof`
 * checks it down to Trent's root.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import t from 'tap';
import type { Notary } from '../../broker/notary.js';
import { Upstream } from '../../broker/upstream.js';
import { sealBlock, ZERO_HASH } from '../../core/block.js';
import { type DetValue, decodeDet, encodeDet } from '../../core/det-cbor.js';
import { softwareRecipient } from '../../core/hpke.js';
import { encodeReading } from '../../core/reading.js';
import type { Signer } from '../../core/signer.js';
import { Spool } from '../../gateway/spool.js';
import { BlockMaker, startNotary, tempDir } from '../broker/helpers.js';
import { createTestPki } from '../helpers/pki.js';

const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
if (!existsSync(BIN)) throw new Error(`${BIN} missing: run 'npm run build' first (npm test does)`);

const pki = await createTestPki(t);
const inst = await pki.participant('notary', 'notary-1');
const region = await pki.participant('notary', 'regional');
const gw = await pki.participant('gateway', 'gw-1');
const other = await pki.participant('gateway', 'gw-2');

/** Asynchronous: the notaries answering the CLI live in this process's event loop. */
function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, MEDCHAIN_LOG_LEVEL: 'silent' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const reader = softwareRecipient(p256.utils.randomSecretKey());
const T0 = Date.now();
const reading = (seq: number) => ({
  deviceId: 'ox-1',
  seq,
  receivedAt: T0 + seq,
  bytes: encodeReading({
    deviceId: 'ox-1',
    seq,
    deviceTime: T0,
    patient: 'MRN-4',
    observations: [
      { kind: 'numeric', code: 150456, value: { mantissa: 960 + seq, exponent: -1 }, unit: '%' },
    ],
  }),
});

/** What the gateway's sealer and uplink do: seal what is spooled, register it, keep the receipt. */
async function sealAndRegister(
  spool: Spool,
  notary: Notary,
  signer: Signer,
  prev: { seq: number; hash: Uint8Array },
) {
  const pending = await spool.unsealed(100, 1 << 20);
  const seq = prev.seq + 1;
  const sealed = await sealBlock({
    gatewayId: 'gw-1',
    seq,
    prev: prev.hash,
    readings: pending.map((r) => ({ reading: r.bytes, receivedAt: r.receivedAt })),
    readers: [{ kid: 'reader-1', publicKey: reader.publicKey }],
    signer,
    sealedAt: T0 + 10 * seq,
  });
  await spool.storeBlock({
    seq,
    prev: prev.hash,
    hash: sealed.hash,
    bytes: sealed.bytes,
    sealedAt: T0 + 10 * seq,
    count: pending.length,
    lastReadingId: pending.at(-1)!.id,
    salts: Buffer.concat(sealed.records.map((r) => r.salt)),
  });
  const ans = await notary.registrar.submit('gw-1', sealed.bytes);
  if (ans.kind !== 'registered') throw new Error(JSON.stringify(ans));
  await spool.storeReceipt(seq, ans.receipt, Date.now());
  return { seq, hash: sealed.hash };
}

t.test('prove --notary includes the regional anchor; verify-proof checks it', async (t) => {
  const dir = tempDir(t);
  const regional = await startNotary(t, pki, region, [inst], { submitRoles: ['notary'] });
  const institution = await startNotary(t, pki, inst, [gw, other]);
  // Another gateway's block first, so the reading's entry is not at height 1.
  const otherBlock = await new BlockMaker('gw-2', await pki.signer(other)).next();
  await institution.registrar.submit('gw-2', otherBlock.bytes);
  const spool = await Spool.open(join(dir, 'gw-1.db'));
  t.teardown(() => spool.close());
  const signer = await pki.signer(gw);
  await spool.insertBatch([1, 2, 3].map(reading));
  const first = await sealAndRegister(spool, institution, signer, { seq: 0, hash: ZERO_HASH });

  const up = await Upstream.start({
    notaryId: 'notary-1',
    upstreamId: 'regional',
    url: `mqtts://127.0.0.1:${regional.broker.port}`,
    everyMs: 200,
    tls: { key: readFileSync(inst.tls.keyPath, 'utf8'), cert: inst.tls.pem, ca: pki.rootPem },
    upstreamCert: region.signing.der,
    store: institution.store,
    checkpointer: institution.checkpointer,
    signer: await pki.signer(inst),
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no anchor of size 2 within 20 s')), 20_000);
    up.on('anchored', (e: { size: number }) => {
      if (e.size < 2) return;
      clearTimeout(timer);
      resolve();
    });
  });
  await up.stop();

  const notaryUrl = `http://127.0.0.1:${institution.http!.port}`;
  const prove = (seq: number, out: string, extra: string[]) =>
    run([
      ...['prove', '--db', join(dir, 'gw-1.db'), '--cert', gw.signing.path],
      ...['--notary-cert', inst.signing.path, '--device', 'ox-1', '--seq', String(seq)],
      ...['--out', join(dir, out), '--notary', notaryUrl, ...extra],
    ]);
  const proved = await prove(2, 'ox-1-2.proof', ['--upstream-cert', region.signing.path]);
  t.equal(proved.status, 0, proved.stderr);
  const verified = await run([
    'verify-proof',
    join(dir, 'ox-1-2.proof'),
    '--root',
    pki.rootPath,
    '--json',
  ]);
  t.equal(verified.status, 0, verified.stdout + verified.stderr);
  t.match(JSON.parse(verified.stdout), {
    ok: true,
    deviceId: 'ox-1',
    seq: 2,
    notary: 'notary-1',
    height: 2,
    anchor: { notaryId: 'regional', height: Number, size: Number },
  });
  const text = await run(['verify-proof', join(dir, 'ox-1-2.proof'), '--root', pki.rootPath]);
  t.match(
    text.stdout,
    /anchored: notary-1's checkpoint of size \d+ registered by regional at height \d+/,
  );

  // The anchor removed from the proof: still a valid proof, reported as not anchored.
  const proof = decodeDet(new Uint8Array(readFileSync(join(dir, 'ox-1-2.proof'))), {
    maxDepth: 6,
  }) as DetValue[];
  t.equal((proof[8] as DetValue[]).length, 1, 'the proof carries one anchor');
  writeFileSync(join(dir, 'bare.proof'), encodeDet([...proof.slice(0, 8), []]));
  const bare = await run(['verify-proof', join(dir, 'bare.proof'), '--root', pki.rootPath]);
  t.equal(bare.status, 0, bare.stdout + bare.stderr);
  t.match(bare.stdout, /\n {2}not anchored: the proof carries no upstream receipt/);
  t.notMatch(bare.stdout, /anchored: notary-1's checkpoint/);

  // The institution's certificate where the regional one belongs: refused at the anchor.
  const wrong = await prove(2, 'wrong.proof', ['--upstream-cert', inst.signing.path]);
  t.equal(wrong.status, 0, wrong.stderr);
  const refused = await run(['verify-proof', join(dir, 'wrong.proof'), '--root', pki.rootPath]);
  t.equal(refused.status, 1);
  t.match(refused.stdout, /^FAIL anchor-certificate: wrong-id/);

  // A block registered after the last anchor: no anchor covers its entry (height 3) yet.
  await spool.insertBatch([reading(4)]);
  await sealAndRegister(spool, institution, signer, first);
  const uncovered = await prove(4, 'u.proof', ['--upstream-cert', region.signing.path]);
  t.equal(uncovered.status, 2);
  t.match(uncovered.stderr, /GATEWAY_NO_PROOF: no anchor for height 3: .*404.*not covered/);

  for (const [query, status] of [
    ['height=0', 404],
    ['height=99', 404],
    ['height=x', 400],
    ['', 400],
  ] as const) {
    const res = await fetch(`${notaryUrl}/anchor?${query}`);
    t.equal(res.status, status, `GET /anchor?${query}`);
    t.type(((await res.json()) as { error?: unknown }).error, 'string');
  }

  const half = await prove(2, 'h.proof', []);
  t.equal(half.status, 2);
  t.match(half.stderr, /CLI_USAGE: --notary and --upstream-cert go together/);
});
