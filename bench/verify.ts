/**
 * Verification of a chain export (broker/export-verify.ts, what `medchain verify` runs)
 * in blocks per second, beside this machine's yardsticks measured in the same run:
 * ECDSA P-256 verifies per second (node:crypto, the path cose-verify.ts takes) on one
 * core and on every core (one worker thread per core), and SHA-256 over the same
 * export bytes. Each block costs two ECDSA verifies (its header, its receipt), so one
 * core can reach at most half the one-core ECDSA rate.
 *
 * The export is real: Trent (software keys), a gateway and a notary certificate issued
 * by it, N sealed headers over random bodies, N receipts, a checkpoint at N. Built once
 * per N into the OS temp directory (signing 2N statements takes a while), then reused.
 */
import { createHash, createPublicKey, verify as ecVerify } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { p256 } from '@noble/curves/nist.js';
import { type ExportItem, encodeItem } from '../broker/export.js';
import { verifyExport } from '../broker/export-verify.js';
import { CertificateAuthority } from '../ca/authority.js';
import { createCsr } from '../ca/csr.js';
import { bodyHash, encodeBlockHeader, internalHash } from '../core/block.js';
import { sign1 } from '../core/cose.js';
import { concatBytes } from '../core/det-cbor.js';
import { encodeEntry, entryHash } from '../core/entry.js';
import { kidOfCertificate } from '../core/kid.js';
import { leafHash } from '../core/merkle.js';
import { MerkleBuilder } from '../core/merkle-builder.js';
import { signCheckpoint, signReceipt } from '../core/receipt.js';
import { softwareSigner } from '../core/signer.js';

export interface VerifyBench {
  entries: number;
  exportMB: number;
  verifyBlocksPerSec: number;
  ecdsaVerifiesPerSecOneCore: number;
  ecdsaVerifiesPerSecAllCores: number;
  cores: number;
  sha256MBps: number;
  /** Hashing the export once, as blocks per second (the floor no verifier can beat). */
  sha256BlocksPerSec: number;
  /** verifyBlocksPerSec / ecdsaVerifiesPerSecAllCores (floor 0.5, goal 0.9). */
  ratioToAllCoreEcdsa: number;
}

/** The uncompressed P-256 point as SubjectPublicKeyInfo DER. */
const SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
const spkiOf = (point: Uint8Array) => new Uint8Array(Buffer.concat([SPKI_PREFIX, point]));

async function build(n: number, dir: string): Promise<{ bytes: Uint8Array; rootPem: string }> {
  const keys = new Map<string, Uint8Array>();
  const keyFor = (label: string) => {
    const d = keys.get(label) ?? p256.utils.randomSecretKey();
    keys.set(label, d);
    return d;
  };
  const digestSigner = {
    signDigest: async (label: string, digest: Uint8Array) =>
      p256.sign(digest, keyFor(label), { prehash: false }),
  };
  const point = (label: string) => p256.getPublicKey(keyFor(label), false);
  const ca = await CertificateAuthority.init({
    dbPath: join(dir, 'ca.db'),
    signer: digestSigner,
    keyLabel: 'root',
    spki: spkiOf(point('root')),
  });
  const issue = async (role: 'gateway' | 'notary', id: string) => {
    const csr = await createCsr({
      signer: digestSigner,
      keyLabel: id,
      spki: spkiOf(point(id)),
      role,
      id,
    });
    const der = new Uint8Array((await ca.issue({ role, id, csr })).certificate.rawData);
    return { der, signer: softwareSigner(keyFor(id), kidOfCertificate(der)) };
  };
  const gw = await issue('gateway', 'gw-1');
  const notary = await issue('notary', 'notary-1');
  const rootPem = ca.root.toString('pem');
  const items: ExportItem[] = [
    { kind: 'header', version: 2, notaryId: 'notary-1', size: n, exportedAt: Date.now() },
    { kind: 'root', der: new Uint8Array(ca.root.rawData) },
    { kind: 'certificate', der: gw.der },
    { kind: 'certificate', der: notary.der },
  ];
  const b = new MerkleBuilder();
  let prevH: Uint8Array = new Uint8Array(32);
  let prevh: Uint8Array = new Uint8Array(32);
  const now = Date.now();
  for (let h = 1; h <= n; h++) {
    const body = crypto.getRandomValues(new Uint8Array(600));
    const signedHeader = await sign1(
      gw.signer,
      encodeBlockHeader({
        gatewayId: 'gw-1',
        seq: h,
        prev: prevh,
        bodyHash: bodyHash(body),
        root: new Uint8Array(32),
        count: 10,
        sealedAt: now,
      }),
    );
    prevh = internalHash(signedHeader);
    const entry = encodeEntry({
      height: h,
      prev: prevH,
      internal: prevh,
      submitter: 'gw-1',
      registeredAt: now,
    });
    prevH = entryHash(entry);
    b.append(leafHash(prevH));
    const receipt = await signReceipt(notary.signer, 'notary-1', entry, b.root());
    items.push({ kind: 'entry', height: h, entry, signedHeader, body, erased: undefined, receipt });
  }
  const checkpoint = await signCheckpoint(notary.signer, {
    notaryId: 'notary-1',
    size: n,
    head: prevH,
    logRoot: b.root(),
    time: now,
  });
  items.push({ kind: 'checkpoint', size: n, checkpoint });
  items.push({ kind: 'end', size: n, head: prevH, logRoot: b.root() });
  await ca.close();
  return { bytes: concatBytes(items.map(encodeItem)), rootPem };
}

async function exportOf(n: number): Promise<{ bytes: Uint8Array; rootPem: string }> {
  const file = join(tmpdir(), `medchain-bench-export-${n}.cbor`);
  const pem = `${file}.root.pem`;
  if (existsSync(file) && existsSync(pem)) {
    return { bytes: new Uint8Array(readFileSync(file)), rootPem: readFileSync(pem, 'utf8') };
  }
  const dir = mkdtempSync(join(tmpdir(), 'medchain-bench-ca-'));
  try {
    const built = await build(n, dir);
    writeFileSync(file, built.bytes);
    writeFileSync(pem, built.rootPem);
    return built;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** ECDSA P-256 verifies per second of one fixed (data, signature) on this thread. */
export function ecdsaRate(ms: number): number {
  const d = p256.utils.randomSecretKey();
  const data = crypto.getRandomValues(new Uint8Array(200));
  const digest = createHash('sha256').update(data).digest();
  const sig = p256.sign(digest, d, { prehash: false });
  const key = createPublicKey({
    key: Buffer.from(spkiOf(p256.getPublicKey(d, false))),
    format: 'der',
    type: 'spki',
  });
  let count = 0;
  const end = performance.now() + ms;
  const t0 = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) {
      if (!ecVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig))
        throw new Error('verify');
    }
    count += 100;
  }
  return count / ((performance.now() - t0) / 1000);
}

async function allCores(ms: number, cores: number): Promise<number> {
  const url = new URL('./verify-worker.js', import.meta.url);
  const rates = await Promise.all(
    Array.from(
      { length: cores },
      () =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(url, { workerData: { ms } });
          w.once('message', (r: number) => resolve(r));
          w.once('error', reject);
        }),
    ),
  );
  return rates.reduce((a, b) => a + b, 0);
}

export async function benchVerify(opts: { quick: boolean }): Promise<VerifyBench> {
  const n = opts.quick ? 5_000 : 100_000;
  const { bytes, rootPem } = await exportOf(n);
  const ms = opts.quick ? 1000 : 3000;
  const one = ecdsaRate(ms);
  const cores = availableParallelism();
  const all = await allCores(ms, cores);
  let t0 = performance.now();
  let rounds = 0;
  while (performance.now() - t0 < ms) {
    createHash('sha256').update(bytes).digest();
    rounds += 1;
  }
  const shaSec = (performance.now() - t0) / 1000 / rounds;
  t0 = performance.now();
  const v = await verifyExport(bytes, { root: rootPem });
  const sec = (performance.now() - t0) / 1000;
  if (!v.ok) throw new Error(`the bench export does not verify: ${v.check}: ${v.detail}`);
  const blocks = n / sec;
  return {
    entries: n,
    exportMB: Math.round(bytes.length / 1e5) / 10,
    verifyBlocksPerSec: Math.round(blocks),
    ecdsaVerifiesPerSecOneCore: Math.round(one),
    ecdsaVerifiesPerSecAllCores: Math.round(all),
    cores,
    sha256MBps: Math.round(bytes.length / 1e6 / shaSec),
    sha256BlocksPerSec: Math.round(n / shaSec),
    ratioToAllCoreEcdsa: Number((blocks / all).toFixed(3)),
  };
}
