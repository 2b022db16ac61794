import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import t from 'tap';
import { createCrl, crlPem } from '../../ca/crl.js';
import { sealBlock, ZERO_HASH } from '../../core/block.js';
import { encodeEntry } from '../../core/entry.js';
import { softwareRecipient } from '../../core/hpke.js';
import { kidOfCertificate } from '../../core/kid.js';
import { leafHash } from '../../core/merkle.js';
import { inclusionProof } from '../../core/merkle-proof.js';
import { encodeReading } from '../../core/reading.js';
import { encodeReadingProof, type ReadingProof } from '../../core/reading-proof.js';
import { signReceipt } from '../../core/receipt.js';
import { digestSigner } from '../../core/signer.js';
import { initCa, participantCsr, tempDir, tokens } from '../helpers/ca.js';

const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
if (!existsSync(BIN)) throw new Error(`${BIN} missing: run 'npm run build' first (npm test does)`);

// Every key on its own SoftHSM token, every certificate from Trent: the proof is real.
const tok = tokens(t, ['trent', 'clinic', 'notary', 'rogue']);
const dir = tempDir(t);
const ca = await initCa(tok.trent!, join(dir, 'ca.db'));
const rogueCa = await initCa(tok.rogue!, join(dir, 'rogue.db'));
t.teardown(async () => {
  await ca.close();
  await rogueCa.close();
});
const issue = async (token: string, key: string, role: 'gateway' | 'notary', id: string) => {
  const csr = await participantCsr(tok[token]!, key, role, id);
  return (await ca.issue({ csr, role, id })).certificate;
};
const gwCert = await issue('clinic', 'gw', 'gateway', 'gw-1');
const ntCert = await issue('notary', 'nt', 'notary', 'notary-1');
const gwDer = new Uint8Array(gwCert.rawData);
const ntDer = new Uint8Array(ntCert.rawData);
const gw = digestSigner(kidOfCertificate(gwDer), (d) => tok.clinic!.signDigest('gw', d));
const nt = digestSigner(kidOfCertificate(ntDer), (d) => tok.notary!.signDigest('nt', d));
writeFileSync(join(dir, 'root.pem'), ca.rootPem);
writeFileSync(join(dir, 'rogue.pem'), rogueCa.rootPem);

const now = Date.now();
const reader = softwareRecipient(p256.utils.randomSecretKey());
const block = await sealBlock({
  gatewayId: 'gw-1',
  seq: 1,
  prev: ZERO_HASH,
  readings: [0, 1, 2].map((i) => ({
    reading: encodeReading({
      deviceId: 'ox-7',
      seq: 40 + i,
      deviceTime: now - 5000 + i,
      patient: 'MRN-12',
      observations: [
        { kind: 'numeric', code: 150456, value: { mantissa: 971 + i, exponent: -1 }, unit: '%' },
      ],
    }),
    receivedAt: now - 4000,
  })),
  readers: [{ kid: 'reader-1', publicKey: reader.publicKey }],
  signer: gw,
  sealedAt: now - 3000,
});
const entry = encodeEntry({
  height: 3,
  prev: ZERO_HASH,
  internal: block.hash,
  submitter: 'gw-1',
  registeredAt: now - 2000,
});
const proof: ReadingProof = {
  record: block.records[2]!.bytes,
  leafIndex: 2,
  path: inclusionProof(
    block.records.map((r) => leafHash(r.bytes)),
    2,
  ),
  signedHeader: block.block.signedHeader,
  gatewayCert: gwDer,
  receipt: await signReceipt(nt, 'notary-1', entry, new Uint8Array(32)),
  notaryCert: ntDer,
  anchors: [],
};
const write = (name: string, p: ReadingProof) => {
  const file = join(dir, name);
  writeFileSync(file, encodeReadingProof(p));
  return file;
};
const verifyProof = (args: string[]) =>
  spawnSync(process.execPath, [BIN, 'verify-proof', ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, MEDCHAIN_LOG_LEVEL: 'silent' },
  });

t.test('a proof made on real tokens with Trent certificates verifies offline', async (t) => {
  const r = verifyProof([write('good.proof', proof), '--root', 'root.pem', '--json']);
  t.equal(r.status, 0, r.stderr);
  t.match(JSON.parse(r.stdout), {
    ok: true,
    deviceId: 'ox-7',
    seq: 42,
    patient: 'MRN-12',
    observations: [{ code: 'MDC_PULS_OXIM_SAT_O2', value: '97.3', unit: '%' }],
    gateway: 'gw-1',
    notary: 'notary-1',
    height: 3,
  });
  const text = verifyProof(['good.proof', '--root', 'root.pem']);
  t.match(text.stdout, /^OK reading ox-7#42/);
});

t.test('tampering, a foreign root and a missing file are refused', async (t) => {
  const salt = Uint8Array.from(proof.record);
  salt[2]! ^= 1;
  const bad = verifyProof([write('bad.proof', { ...proof, record: salt }), '--root', 'root.pem']);
  t.equal(bad.status, 1);
  t.match(bad.stdout, /^FAIL inclusion/);
  const foreign = verifyProof(['good.proof', '--root', 'rogue.pem']);
  t.equal(foreign.status, 1);
  t.match(foreign.stdout, /^FAIL notary-certificate: chain/);
  const missing = verifyProof(['absent.proof', '--root', 'root.pem']);
  t.equal(missing.status, 2);
  t.match(missing.stderr, /CLI_INPUT/);
});

t.test('revocation after registration keeps the proof; before it, the proof fails', async (t) => {
  await ca.revoke(gwCert.serialNumber, 'superseded', new Date(now + 60_000));
  writeFileSync(join(dir, 'crl1.pem'), crlPem(await createCrl(ca)));
  const later = verifyProof(['good.proof', '--root', 'root.pem', '--crl', 'crl1.pem']);
  t.equal(later.status, 0, `revoked after the receipt: ${later.stdout}`);
  await ca.revoke(ntCert.serialNumber, 'keyCompromise', new Date(now - 10_000));
  writeFileSync(join(dir, 'crl2.pem'), crlPem(await createCrl(ca)));
  const earlier = verifyProof(['good.proof', '--root', 'root.pem', '--crl', 'crl2.pem']);
  t.equal(earlier.status, 1);
  t.match(earlier.stdout, /^FAIL notary-certificate: revoked/);
});
