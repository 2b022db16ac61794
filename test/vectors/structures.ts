/**
 * Deterministic vectors for the structures of docs/FORMAT.md "Internal blocks"
 * through "Reading proofs": a block, a receipt, a checkpoint and a reading proof,
 * each valid and with named mutations and the check that must reject them.
 * Bodies here are fixed bytes, not ciphertext: block verification only hashes
 * the body, and fixed bytes keep the files reproducible byte for byte.
 * Certificates are stand-in byte strings mapped to the test keys in
 * `certificates`; real X.509 is covered by the CA's tests.
 */
import { encodeBlock, encodeBlockHeader, internalHash, ZERO_HASH } from '../../core/block.js';
import { toHex } from '../../core/bytes.js';
import { sign1 } from '../../core/cose.js';
import { encodeDet } from '../../core/det-cbor.js';
import { encodeEntry, entryHash } from '../../core/entry.js';
import { sha256, Tag, taggedHash } from '../../core/hash.js';
import { kidOfCertificate } from '../../core/kid.js';
import { leafHash, merkleRoot } from '../../core/merkle.js';
import { inclusionProof } from '../../core/merkle-proof.js';
import { encodeReading } from '../../core/reading.js';
import {
  encodeReadingProof,
  type ProofAnchor,
  type ReadingProof,
} from '../../core/reading-proof.js';
import { signCheckpoint, signReceipt } from '../../core/receipt.js';
import { softwareSigner } from '../../core/signer.js';
import { TEST_KEY_A, TEST_KEY_B, TEST_KEY_C } from '../helpers/test-keys.js';

type Files = Map<string, string>;
const text = (s: string) => new TextEncoder().encode(s);
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
const flipBit = (b: Uint8Array, bit: number) => {
  const c = b.slice();
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
};

export const GATEWAY_CERT = text('stand-in certificate of gw-1');
export const NOTARY_CERT = text('stand-in certificate of notary-1');
export const REGIONAL_CERT = text('stand-in certificate of regional');
const T0 = 1_795_000_000_000;

export async function structureVectors(files: Files): Promise<void> {
  const gw = softwareSigner(TEST_KEY_A, kidOfCertificate(GATEWAY_CERT));
  const notary = softwareSigner(TEST_KEY_B, kidOfCertificate(NOTARY_CERT));
  const regional = softwareSigner(TEST_KEY_C, kidOfCertificate(REGIONAL_CERT));
  const certificates = {
    [toHex(GATEWAY_CERT)]: { role: 'gateway', id: 'gw-1', publicKey: toHex(gw.publicKey) },
    [toHex(NOTARY_CERT)]: { role: 'notary', id: 'notary-1', publicKey: toHex(notary.publicKey) },
    [toHex(REGIONAL_CERT)]: {
      role: 'notary',
      id: 'regional',
      publicKey: toHex(regional.publicKey),
    },
  };

  const records = [0, 1, 2, 3, 4].map((i) =>
    encodeDet([
      sha256(text(`salt ${i}`)).subarray(0, 16),
      T0 + 100 + i,
      encodeReading({
        deviceId: 'ox-1',
        seq: 10 + i,
        deviceTime: T0 + i,
        patient: 'MRN-1',
        observations: [
          { kind: 'numeric', code: 150456, value: { mantissa: 970 + i, exponent: -1 }, unit: '%' },
        ],
      }),
    ]),
  );
  const leaves = records.map(leafHash);
  const body = text('vector body: stands for the HPKE ciphertext of the five records');
  const header = {
    gatewayId: 'gw-1',
    seq: 1,
    prev: ZERO_HASH,
    bodyHash: taggedHash(Tag.BlockBody, body),
    root: merkleRoot(leaves),
    count: records.length,
    sealedAt: T0 + 1000,
  };
  const signedHeader = await sign1(gw, encodeBlockHeader(header));
  const h = internalHash(signedHeader);
  const blockCase = (name: string, desc: string, block: Uint8Array, check: string | null) =>
    files.set(
      `structures/block/${name}.json`,
      json({
        desc,
        block: toHex(block),
        gatewayPublicKey: toHex(gw.publicKey),
        gatewayId: 'gw-1',
        kid: toHex(gw.kid),
        expected: { seq: 1, count: 5, hash: toHex(h) },
        check,
      }),
    );
  blockCase('happy-path', 'a valid block', encodeBlock({ signedHeader, body }), null);
  blockCase(
    'erased-body',
    'body erased: header and h(n) still verify (reported as erased)',
    encodeBlock({ signedHeader, body: new Uint8Array(0) }),
    null,
  );
  blockCase(
    'modified-body-bit-0',
    'one body bit flipped',
    encodeBlock({ signedHeader, body: flipBit(body, 0) }),
    'body-hash',
  );
  blockCase(
    'modified-signature-bit-0',
    'one bit of r flipped',
    encodeBlock({ signedHeader: flipBit(signedHeader, (signedHeader.length - 64) * 8), body }),
    'signature',
  );
  const full = encodeBlock({ signedHeader, body });
  blockCase('trailing-garbage', 'one byte after the block', Uint8Array.from([...full, 0]), 'cbor');

  const entry = encodeEntry({
    height: 1,
    prev: ZERO_HASH,
    internal: h,
    submitter: 'gw-1',
    registeredAt: T0 + 2000,
  });
  const logRoot = merkleRoot([leafHash(entryHash(entry))]);
  const receipt = await signReceipt(notary, 'notary-1', entry, logRoot);
  const checkpoint = await signCheckpoint(notary, {
    notaryId: 'notary-1',
    size: 1,
    head: entryHash(entry),
    logRoot,
    time: T0 + 3000,
  });
  const stmt = (
    name: string,
    desc: string,
    kind: string,
    bytes: Uint8Array,
    check: string | null,
  ) =>
    files.set(
      `structures/${kind}/${name}.json`,
      json({
        desc,
        [kind]: toHex(bytes),
        notaryPublicKey: toHex(notary.publicKey),
        kid: toHex(notary.kid),
        expected: { entryHash: toHex(entryHash(entry)), logRoot: toHex(logRoot) },
        check,
      }),
    );
  stmt('happy-path', 'receipt for entry 1', 'receipt', receipt, null);
  stmt(
    'modified-signature-bit-0',
    'one signature bit flipped',
    'receipt',
    flipBit(receipt, (receipt.length - 64) * 8),
    'signature',
  );
  stmt(
    'checkpoint-as-receipt',
    'a checkpoint presented as a receipt',
    'receipt',
    checkpoint,
    'payload',
  );
  stmt('happy-path', 'checkpoint of size 1', 'checkpoint', checkpoint, null);
  stmt(
    'receipt-as-checkpoint',
    'a receipt presented as a checkpoint',
    'checkpoint',
    receipt,
    'payload',
  );

  const proof: ReadingProof = {
    record: records[3]!,
    leafIndex: 3,
    path: inclusionProof(leaves, 3),
    signedHeader,
    gatewayCert: GATEWAY_CERT,
    receipt,
    notaryCert: NOTARY_CERT,
    anchors: [],
  };
  const proofCase = (name: string, desc: string, p: ReadingProof, check: string | null) =>
    files.set(
      `structures/reading-proof/${name}.json`,
      json({ desc, proof: toHex(encodeReadingProof(p)), certificates, check }),
    );
  proofCase('happy-path', 'reading 3 of the vector block', proof, null);
  proofCase(
    'modified-salt-bit-0',
    'bit 0 of the salt (record byte 2) flipped',
    { ...proof, record: flipBit(proof.record, 16) },
    'inclusion',
  );
  proofCase(
    'wrong-leaf-index',
    'leaf index 2 instead of 3',
    { ...proof, leafIndex: 2 },
    'inclusion',
  );
  proofCase(
    'modified-path-0-bit-3',
    'first path element altered',
    { ...proof, path: [flipBit(proof.path[0]!, 3), ...proof.path.slice(1)] },
    'inclusion',
  );
  proofCase(
    'swapped-certificates',
    'notary certificate in the gateway slot',
    { ...proof, gatewayCert: NOTARY_CERT, notaryCert: GATEWAY_CERT },
    'notary-certificate',
  );
  proofCase(
    'receipt-replaced-by-checkpoint',
    'a checkpoint where the receipt belongs',
    { ...proof, receipt: checkpoint },
    'receipt',
  );

  // The anchor: checkpoint 1 (which holds entry 1) sealed as block 1 of notary-1 and
  // registered at height 1 of the regional chain.
  const anchorHeader = await sign1(
    notary,
    encodeBlockHeader({
      gatewayId: 'notary-1',
      seq: 1,
      prev: ZERO_HASH,
      bodyHash: taggedHash(Tag.BlockBody, checkpoint),
      root: merkleRoot([leafHash(checkpoint)]),
      count: 1,
      sealedAt: T0 + 4000,
    }),
  );
  const regionalEntry = encodeEntry({
    height: 1,
    prev: ZERO_HASH,
    internal: internalHash(anchorHeader),
    submitter: 'notary-1',
    registeredAt: T0 + 5000,
  });
  const anchor: ProofAnchor = {
    checkpoint,
    path: [],
    anchorHeader,
    upstreamReceipt: await signReceipt(
      regional,
      'regional',
      regionalEntry,
      merkleRoot([leafHash(entryHash(regionalEntry))]),
    ),
    upstreamCert: REGIONAL_CERT,
  };
  proofCase(
    'anchored',
    'reading 3 with the regional anchor of entry 1',
    { ...proof, anchors: [anchor] },
    null,
  );
  proofCase(
    'anchored-modified-checkpoint-bit-0',
    'the anchored checkpoint altered',
    {
      ...proof,
      anchors: [{ ...anchor, checkpoint: flipBit(checkpoint, 8 * (checkpoint.length - 70)) }],
    },
    'anchor-block',
  );
  proofCase(
    'anchored-wrong-regional-certificate',
    "the institution notary's certificate where the regional one belongs",
    { ...proof, anchors: [{ ...anchor, upstreamCert: NOTARY_CERT }] },
    'anchor-certificate',
  );
  files.set('structures/README.md', README);
}

const README = `# Structure vectors (generated)

Written by \`test/vectors/structures.ts\` (via generate.ts); do not edit. Format:
docs/FORMAT.md, sections "Internal blocks" to "Reading proofs". Signed with the
FIXED TEST KEYS A (gateway), B (notary) and C (regional notary) of test/helpers/test-keys.ts;
deterministic (RFC 6979), so the files regenerate byte for byte.

- \`block/\`: \`block\` (hex) verifies with \`gatewayPublicKey\`, \`kid\` and
  \`gatewayId\`; when \`check\` is null, seq, count and h(n) equal \`expected\`.
- \`receipt/\`, \`checkpoint/\`: the statement verifies with \`notaryPublicKey\`
  and \`kid\`; a valid receipt's entry hash and log root equal \`expected\`.
- \`reading-proof/\`: \`certificates\` maps each stand-in certificate (hex) to the
  role, id and public key a real verifier would get from validating it.

\`check\` is null when the case must verify, else the check that must reject it.
`;
