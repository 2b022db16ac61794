import { createPublicKey, randomBytes } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import t from 'tap';
import {
  bodyHash,
  encodeBlockHeader,
  internalHash,
  sealBlock,
  ZERO_HASH,
} from '../../core/block.js';
import { sign1 } from '../../core/cose.js';
import { decodeSign1 } from '../../core/cose-decode.js';
import { encodeDet } from '../../core/det-cbor.js';
import { encodeEntry, entryHash } from '../../core/entry.js';
import { softwareRecipient } from '../../core/hpke.js';
import { kidOfCertificate } from '../../core/kid.js';
import { leafHash, merkleRoot } from '../../core/merkle.js';
import { inclusionProof } from '../../core/merkle-proof.js';
import { encodeReading, type Reading } from '../../core/reading.js';
import {
  type CertificateResolver,
  decodeReadingProof,
  encodeReadingProof,
  type ProofAnchor,
  type ReadingProof,
  verifyReadingProof,
} from '../../core/reading-proof.js';
import { decodeReceiptPayload, signCheckpoint, signReceipt } from '../../core/receipt.js';
import { softwareSigner } from '../../core/signer.js';

// Stand-ins for certificate DER: core never parses X.509, the resolver (ca/ in the CLI) does.
const gatewayCert = new TextEncoder().encode('certificate of gw-1');
const notaryCert = new TextEncoder().encode('certificate of notary-1');
const gw = softwareSigner(p256.utils.randomSecretKey(), kidOfCertificate(gatewayCert));
const notary = softwareSigner(p256.utils.randomSecretKey(), kidOfCertificate(notaryCert));
const regionalCert = new TextEncoder().encode('certificate of regional');
const regional = softwareSigner(p256.utils.randomSecretKey(), kidOfCertificate(regionalCert));
const keyOf = (point: Uint8Array) =>
  createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: Buffer.from(point.subarray(1, 33)).toString('base64url'),
      y: Buffer.from(point.subarray(33)).toString('base64url'),
    },
    format: 'jwk',
  });
const resolver: CertificateResolver = async (der, role, id) => {
  const s = Buffer.from(der).toString();
  if (role === 'gateway' && s === 'certificate of gw-1' && (id === undefined || id === 'gw-1')) {
    return { ok: true, key: keyOf(gw.publicKey) };
  }
  if (
    role === 'notary' &&
    s === 'certificate of notary-1' &&
    (id === undefined || id === 'notary-1')
  ) {
    return { ok: true, key: keyOf(notary.publicKey) };
  }
  if (role === 'notary' && s === 'certificate of regional' && id === 'regional') {
    return { ok: true, key: keyOf(regional.publicKey) };
  }
  return { ok: false, detail: `not a valid ${role} certificate` };
};

const T0 = Date.UTC(2026, 10, 25, 4);
const reading = (seq: number): Reading => ({
  deviceId: 'bp-3',
  seq,
  deviceTime: T0 + seq,
  patient: 'MRN-9',
  observations: [
    { kind: 'numeric', code: 150021, value: { mantissa: 120 + seq, exponent: 0 }, unit: 'mm[Hg]' },
  ],
});

async function makeProof(index: number): Promise<{ proof: ReadingProof; other: Uint8Array }> {
  const reader = softwareRecipient(p256.utils.randomSecretKey());
  const b = await sealBlock({
    gatewayId: 'gw-1',
    seq: 1,
    prev: ZERO_HASH,
    readings: [0, 1, 2, 3, 4].map((i) => ({
      reading: encodeReading(reading(i)),
      receivedAt: T0 + 10,
    })),
    readers: [{ kid: 'reader-1', publicKey: reader.publicKey }],
    signer: gw,
    sealedAt: T0 + 20,
  });
  const leaves = b.records.map((r) => leafHash(r.bytes));
  const entry = encodeEntry({
    height: 42,
    prev: randomBytes(32),
    internal: b.hash,
    submitter: 'gw-1',
    registeredAt: T0 + 30,
  });
  const receipt = await signReceipt(notary, 'notary-1', entry, randomBytes(32));
  const otherEntry = encodeEntry({
    height: 43,
    prev: randomBytes(32),
    internal: randomBytes(32),
    submitter: 'gw-1',
    registeredAt: T0 + 30,
  });
  return {
    proof: {
      record: b.records[index]!.bytes,
      leafIndex: index,
      path: inclusionProof(leaves, index),
      signedHeader: b.block.signedHeader,
      gatewayCert,
      receipt,
      notaryCert,
      anchors: [],
    },
    other: await signReceipt(notary, 'notary-1', otherEntry, randomBytes(32)),
  };
}

t.test('a reading proof verifies offline and names the reading', async (t) => {
  const { proof } = await makeProof(3);
  const bytes = encodeReadingProof(proof);
  const d = decodeReadingProof(bytes);
  t.ok(d.ok && Buffer.from(encodeReadingProof(d.value)).equals(Buffer.from(bytes)), 'round trip');
  const r = await verifyReadingProof(bytes, resolver);
  t.match(r, { ok: true, gatewayId: 'gw-1', gatewaySeq: 1, notaryId: 'notary-1', height: 42 });
  t.same(r.ok && Buffer.from(r.reading), Buffer.from(encodeReading(reading(3))));
});

t.test('each altered part fails at the check that guards it', async (t) => {
  const { proof, other } = await makeProof(2);
  const flip = (b: Uint8Array, i: number) => {
    const c = Uint8Array.from(b);
    c[i]! ^= 1;
    return c;
  };
  const cases: [string, ReadingProof, string][] = [
    ['record byte', { ...proof, record: flip(proof.record, proof.record.length - 1) }, 'inclusion'],
    ['salt byte', { ...proof, record: flip(proof.record, 3) }, 'inclusion'],
    ['leaf index', { ...proof, leafIndex: 1 }, 'inclusion'],
    ['index beyond count', { ...proof, leafIndex: 5 }, 'inclusion'],
    [
      'path element',
      { ...proof, path: [flip(proof.path[0]!, 0), ...proof.path.slice(1)] },
      'inclusion',
    ],
    ['path truncated', { ...proof, path: proof.path.slice(1) }, 'inclusion'],
    ['signed header', { ...proof, signedHeader: flip(proof.signedHeader, 40) }, 'header-signature'],
    ['gateway certificate', { ...proof, gatewayCert: notaryCert }, 'gateway-certificate'],
    ['notary certificate', { ...proof, notaryCert: gatewayCert }, 'notary-certificate'],
    [
      'receipt byte',
      { ...proof, receipt: flip(proof.receipt, proof.receipt.length - 5) },
      'receipt',
    ],
    ['receipt of another block', { ...proof, receipt: other }, 'receipt-block'],
    ['record not a record', { ...proof, record: encodeDet([1, 2]) }, 'record'],
  ];
  for (const [name, p, check] of cases) {
    t.match(await verifyReadingProof(encodeReadingProof(p), resolver), { ok: false, check }, name);
  }
  for (let i = 0; i < 200; i++) {
    t.match(await verifyReadingProof(randomBytes(i), resolver), { ok: false, check: 'proof' });
  }
});

/** The regional anchor of entry 42: a checkpoint of `size`, its anchor block, the regional receipt. */
async function makeAnchor(
  proof: ReadingProof,
  o: { size?: number; submitter?: string } = {},
): Promise<ProofAnchor> {
  const size = o.size ?? 45;
  const rd = decodeSign1(proof.receipt);
  if (!rd.ok) throw new Error('receipt');
  const rp = decodeReceiptPayload(rd.msg.payload);
  if (!rp.ok) throw new Error('receipt payload');
  const entryBytes = rp.value.entryBytes;
  const leaves: Uint8Array[] = Array.from({ length: size }, () => randomBytes(32));
  if (size >= 42) leaves[41] = leafHash(entryHash(entryBytes));
  const checkpoint = await signCheckpoint(notary, {
    notaryId: 'notary-1',
    size,
    head: randomBytes(32),
    logRoot: merkleRoot(leaves),
    time: T0 + 40,
  });
  const anchorHeader = await sign1(
    notary,
    encodeBlockHeader({
      gatewayId: 'notary-1',
      seq: 3,
      prev: randomBytes(32),
      bodyHash: bodyHash(checkpoint),
      root: merkleRoot([leafHash(checkpoint)]),
      count: 1,
      sealedAt: T0 + 50,
    }),
  );
  const regionalEntry = encodeEntry({
    height: 7,
    prev: randomBytes(32),
    internal: internalHash(anchorHeader),
    submitter: o.submitter ?? 'notary-1',
    registeredAt: T0 + 60,
  });
  return {
    checkpoint,
    path: size >= 42 ? inclusionProof(leaves, 41) : [],
    anchorHeader,
    upstreamReceipt: await signReceipt(regional, 'regional', regionalEntry, randomBytes(32)),
    upstreamCert: regionalCert,
  };
}

t.test('an anchored proof reaches the regional notary; every altered byte fails', async (t) => {
  const { proof } = await makeProof(1);
  const anchor = await makeAnchor(proof);
  const anchored = { ...proof, anchors: [anchor] };
  const bytes = encodeReadingProof(anchored);
  const d = decodeReadingProof(bytes);
  t.ok(d.ok && Buffer.from(encodeReadingProof(d.value)).equals(Buffer.from(bytes)), 'round trip');
  t.match(await verifyReadingProof(bytes, resolver), {
    ok: true,
    height: 42,
    anchor: { notaryId: 'regional', height: 7, size: 45 },
  });

  const flip = (b: Uint8Array, i: number) => {
    const c = Uint8Array.from(b);
    c[i]! ^= 1;
    return c;
  };
  const cases: [string, ProofAnchor, string][] = [
    ['checkpoint byte', { ...anchor, checkpoint: flip(anchor.checkpoint, 30) }, 'anchor-block'],
    [
      'path element',
      { ...anchor, path: [flip(anchor.path[0]!, 3), ...anchor.path.slice(1)] },
      'anchor-inclusion',
    ],
    ['path truncated', { ...anchor, path: anchor.path.slice(1) }, 'anchor-inclusion'],
    ['anchor header', { ...anchor, anchorHeader: flip(anchor.anchorHeader, 40) }, 'anchor-receipt'],
    [
      'regional receipt',
      {
        ...anchor,
        upstreamReceipt: flip(anchor.upstreamReceipt, anchor.upstreamReceipt.length - 3),
      },
      'anchor-receipt',
    ],
    ['regional certificate', { ...anchor, upstreamCert: notaryCert }, 'anchor-certificate'],
    ['checkpoint too small', await makeAnchor(proof, { size: 41 }), 'anchor-checkpoint'],
    ['other submitter', await makeAnchor(proof, { submitter: 'notary-2' }), 'anchor-receipt'],
  ];
  for (const [name, a, check] of cases) {
    t.match(
      await verifyReadingProof(encodeReadingProof({ ...proof, anchors: [a] }), resolver),
      { ok: false, check },
      name,
    );
  }
  t.match(
    await verifyReadingProof(encodeReadingProof({ ...proof, anchors: [anchor, anchor] }), resolver),
    { ok: false, check: 'proof' },
    'more than one anchor is refused',
  );
  const failed: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    if ((await verifyReadingProof(flip(bytes, i), resolver)).ok) failed.push(i);
  }
  t.same(failed, [], `each of the ${bytes.length} bytes, flipped, makes the proof fail`);
});
