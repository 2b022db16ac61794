/**
 * Writes the negative test vectors under test/vectors/merkle/ and
 * test/vectors/cose/: for each probe a valid case and named mutations, each
 * with `desc` and the check that must reject it (`check: null` = must pass).
 * Pattern after transparency-dev/merkle cmd/proofgen. Deterministic: fixed
 * leaves and a fixed TEST key (test/helpers/test-keys.ts), RFC 6979 signatures,
 * so a rerun reproduces the committed files byte for byte (a test checks that).
 *
 * Run from the repository root:
 *   npm run build && node dist/test/vectors/generate.js
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Tag as CborTag } from 'cbor-x';
import { toHex } from '../../core/bytes.js';
import { encodeCbor } from '../../core/cbor.js';
import { protectedHeaderBytes, sign1, sigStructure } from '../../core/cose.js';
import { verifySign1 } from '../../core/cose-verify.js';
import { sha256 } from '../../core/hash.js';
import { leafHash, merkleRoot } from '../../core/merkle.js';
import { encodeConsistencyProof, encodeInclusionProof } from '../../core/merkle-cbor.js';
import { consistencyProof, inclusionProof } from '../../core/merkle-proof.js';
import { verifyConsistency, verifyInclusion } from '../../core/merkle-verify.js';
import { TEST_KEY_A, testSignerA, testSignerB } from '../helpers/test-keys.js';
import { structureVectors } from './structures.js';

export type Files = Map<string, string>;

const text = (s: string) => new TextEncoder().encode(s);
const flip = (b: Uint8Array, bit: number) => {
  const c = b.slice();
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
};
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/** Leaf i of the vector trees is the UTF-8 text `leaf-<i>`; its hash is leafHash of that. */
export const VECTOR_LEAVES = Array.from({ length: 32 }, (_, i) => leafHash(text(`leaf-${i}`)));

const INCLUSION_PROBES: [number, number][] = [
  [0, 1],
  [0, 8],
  [5, 8],
  [2, 3],
  [6, 7],
  [13, 21],
  [31, 32],
];
const CONSISTENCY_PROBES: [number, number][] = [
  [1, 1],
  [1, 8],
  [6, 8],
  [2, 5],
  [4, 7],
  [13, 21],
  [7, 32],
];

function inclusionCases(files: Files, index: number, size: number): void {
  const leaves = VECTOR_LEAVES;
  const root = merkleRoot(leaves, 0, size);
  const proof = inclusionProof(leaves, index, size);
  const dir = `merkle/inclusion/i${index}-n${size}`;
  const add = (
    name: string,
    desc: string,
    c: {
      leafIdx?: number;
      treeSize?: number;
      leaf?: Uint8Array;
      root?: Uint8Array;
      proof?: Uint8Array[];
      /** Replaces the encoded proof; its decoding must fail with `check`. */
      cbor?: { bytes: Uint8Array; check: string };
    },
  ) => {
    const p = c.proof ?? proof;
    const leafIdx = c.leafIdx ?? index;
    const treeSize = c.treeSize ?? size;
    const leaf = c.leaf ?? leaves[index]!;
    const r = c.root ?? root;
    const cbor =
      c.cbor?.bytes ??
      (p.every((h) => h.length === 32)
        ? encodeInclusionProof({ leafIndex: leafIdx, treeSize, path: p })
        : encodeCbor([leafIdx, treeSize, p]));
    const v = verifyInclusion(leafIdx, treeSize, leaf, p, r);
    mustFail(name, c.cbor !== undefined || !v.ok);
    files.set(
      `${dir}/${name}.json`,
      json({
        desc,
        leafIdx,
        treeSize,
        leafHash: toHex(leaf),
        root: toHex(r),
        proof: p.map(toHex),
        proofCbor: toHex(cbor),
        check: c.cbor ? c.cbor.check : v.ok ? null : v.check,
      }),
    );
  };
  add('happy-path', `valid proof for leaf ${index} in a tree of ${size}`, {});
  proof.forEach((_h, i) => {
    add(`modified-proof[${i}]-bit-3`, `bit 3 of proof[${i}] flipped`, {
      proof: proof.map((x, k) => (k === i ? flip(x, 3) : x)),
    });
  });
  add('modified-leaf-bit-0', 'bit 0 of the leaf hash flipped', { leaf: flip(leaves[index]!, 0) });
  add('modified-root-bit-255', 'last bit of the root flipped', { root: flip(root, 255) });
  add('index-out-of-range', 'leafIdx = treeSize', { leafIdx: size });
  if (size > 1) {
    const other = (index ^ 1) < size ? index ^ 1 : index - 1;
    add(`wrong-index-${other}`, `proof presented for leaf ${other}`, { leafIdx: other });
    add('truncated-proof', 'last proof element removed', { proof: proof.slice(0, -1) });
    add('empty-proof', 'no proof elements', { proof: [] });
  }
  add('extended-proof', 'the leaf hash appended to the proof', {
    proof: [...proof, leaves[index]!],
  });
  add('preceding-proof', 'the leaf hash prepended to the proof', {
    proof: [leaves[index]!, ...proof],
  });
  add('size-doubled', 'treeSize * 2: the path no longer fits the tree', { treeSize: size * 2 });
  add('short-proof-element', 'a 31-byte proof element', {
    proof: [new Uint8Array(31), ...proof.slice(1)],
  });
  const enc = encodeInclusionProof({ leafIndex: index, treeSize: size, path: proof });
  add('trailing-garbage', 'proofCbor followed by one 0x00 byte', {
    cbor: { bytes: Uint8Array.from([...enc, 0]), check: 'cbor' },
  });
  // Probe indices are < 256: their minimal head is 1 byte (< 24) or 0x18 + 1 byte.
  const rest = enc.subarray(index < 24 ? 2 : 3);
  add(
    'non-canonical-index',
    'proofCbor with leafIdx in a 2-byte-argument head (0x19) it does not need',
    {
      cbor: { bytes: Uint8Array.from([0x83, 0x19, 0x00, index, ...rest]), check: 'non-canonical' },
    },
  );
}

/** A mutation that verifies is a generator bug (or a finding): refuse to write it. */
function mustFail(name: string, failed: boolean): void {
  if (name.startsWith('happy-path') === failed) {
    throw new Error(`vector ${name}: ${failed ? 'valid case fails' : 'mutation verifies'}`);
  }
}

/** Replaces `from` by `to` in a hex string, insisting it occurs (a silent no-op would make a valid "mutation"). */
function mustReplace(hex: string, from: string, to: string): Uint8Array {
  if (!hex.includes(from)) throw new Error(`vector generation: ${from} not found`);
  return Uint8Array.from(Buffer.from(hex.replace(from, to), 'hex'));
}

function consistencyCases(files: Files, size1: number, size2: number): void {
  const leaves = VECTOR_LEAVES;
  const root1 = merkleRoot(leaves, 0, size1);
  const root2 = merkleRoot(leaves, 0, size2);
  const proof = consistencyProof(leaves, size1, size2);
  const dir = `merkle/consistency/m${size1}-n${size2}`;
  const add = (
    name: string,
    desc: string,
    c: {
      size1?: number;
      size2?: number;
      root1?: Uint8Array;
      root2?: Uint8Array;
      proof?: Uint8Array[];
    },
  ) => {
    const p = c.proof ?? proof;
    const s1 = c.size1 ?? size1;
    const s2 = c.size2 ?? size2;
    const r1 = c.root1 ?? root1;
    const r2 = c.root2 ?? root2;
    const v = verifyConsistency(s1, s2, r1, r2, p);
    mustFail(name, !v.ok);
    files.set(
      `${dir}/${name}.json`,
      json({
        desc,
        size1: s1,
        size2: s2,
        root1: toHex(r1),
        root2: toHex(r2),
        proof: p.map(toHex),
        proofCbor: toHex(encodeConsistencyProof({ size1: s1, size2: s2, path: p })),
        check: v.ok ? null : v.check,
      }),
    );
  };
  add('happy-path', `valid proof that tree ${size1} is a prefix of tree ${size2}`, {});
  proof.forEach((_, i) => {
    add(`modified-proof[${i}]-bit-3`, `bit 3 of proof[${i}] flipped`, {
      proof: proof.map((x, k) => (k === i ? flip(x, 3) : x)),
    });
  });
  add('modified-root1-bit-0', 'bit 0 of the old root flipped', { root1: flip(root1, 0) });
  add('modified-root2-bit-0', 'bit 0 of the new root flipped', { root2: flip(root2, 0) });
  add('swapped-sizes', 'size1 and size2 exchanged', { size1: size2 + 1, size2: size1 });
  if (proof.length > 0)
    add('truncated-proof', 'last element removed', { proof: proof.slice(0, -1) });
  add('extended-proof', 'root1 appended to the proof', { proof: [...proof, root1] });
  add('preceding-root1', 'root1 prepended to the proof', { proof: [root1, ...proof] });
}

/** Signs arbitrary (possibly non-profile) COSE_Sign1 contents with TEST key A. */
async function rawSign1(
  prot: Uint8Array,
  unprot: Map<number, unknown>,
  payload: Uint8Array,
  options: { tag?: number; aad?: Uint8Array } = {},
): Promise<Uint8Array> {
  const sig = await testSignerA().signDigest(sha256(sigStructure(prot, payload, options.aad)));
  return encodeCbor(new CborTag([prot, unprot, payload, sig], options.tag ?? 18));
}

async function coseCases(files: Files): Promise<void> {
  const A = testSignerA();
  const B = testSignerB();
  const payload = encodeCbor(['medchain vector', 7, text('block header')]);
  const aad = text('med/v1/notary/n1/submit/test-gw-1');
  const good = await sign1(A, payload, { externalAad: aad });
  const add = (
    name: string,
    desc: string,
    cose: Uint8Array,
    c: { key?: Uint8Array; aad?: Uint8Array | null } = {},
  ) => {
    const key = c.key ?? A.publicKey;
    const a = c.aad === undefined ? aad : c.aad;
    const v = verifySign1(cose, key, {
      expectedKid: A.kid,
      ...(a === null ? {} : { externalAad: a }),
    });
    mustFail(name, !v.ok);
    files.set(
      `cose/${name}.json`,
      json({
        desc,
        publicKey: toHex(key),
        expectedKid: toHex(A.kid),
        externalAad: a === null ? '' : toHex(a),
        payload: toHex(payload),
        cose: toHex(cose),
        check: v.ok ? null : v.check,
      }),
    );
  };
  const hex = toHex(good);
  const payloadHex = toHex(payload);
  const protHex = toHex(encodeCbor(protectedHeaderBytes(A.kid)));
  const payloadBit = (hex.indexOf(`${protHex}a0`) / 2 + protHex.length / 2 + 3) * 8 + 3;
  add('happy-path', 'valid medchain-profile COSE_Sign1 with external AAD', good);
  add('happy-path-no-aad', 'valid, empty external AAD', await sign1(A, payload), { aad: null });
  const sigOffset = good.length - 64;
  add('modified-signature-bit-0', 'bit 0 of r flipped', flip(good, sigOffset * 8));
  add(
    'modified-signature-s-bit-7',
    'bit 7 of the last byte of s flipped',
    flip(good, good.length * 8 - 1),
  );
  add('modified-payload-bit-3', 'bit 3 of the first payload byte flipped', flip(good, payloadBit));
  add(
    'modified-kid-bit-0',
    'bit 0 of the kid inside the protected header flipped',
    flip(good, (4 + 6) * 8),
  );
  add('wrong-key', 'verified with TEST key B', good, { key: B.publicKey });
  add('wrong-aad', 'verified with different external AAD', good, {
    aad: text('med/v1/notary/n1/submit/test-gw-2'),
  });
  add('missing-aad', 'verified without the external AAD', good, { aad: null });
  add(
    'wrong-kid',
    'valid signature by key A, but kid test-gw-2 in the header',
    await sign1({ ...A, kid: B.kid }, payload, { externalAad: aad }),
  );
  add('trailing-garbage', 'one 0x00 byte after the message', Uint8Array.from([...good, 0]));
  add('truncated', 'last byte removed', good.subarray(0, -1));
  add('untagged', 'tag 18 removed (medchain requires it)', good.subarray(1));
  add('wrong-tag', 'tag 98 (COSE_Sign) instead of 18', mustReplace(hex, 'd284', 'd86284'));
  add(
    'non-canonical-length',
    'payload length in a 2-byte head instead of 1',
    mustReplace(hex, `a0581f${payloadHex}`, `a059001f${payloadHex}`),
  );
  add(
    'signature-63-bytes',
    'signature truncated to 63 bytes',
    encodeCbor(
      new CborTag(
        [protectedHeaderBytes(A.kid), new Map(), payload, good.subarray(sigOffset, -1)],
        18,
      ),
    ),
  );
  add(
    'payload-nil',
    'detached payload (nil)',
    encodeCbor(
      new CborTag([protectedHeaderBytes(A.kid), new Map(), null, good.subarray(sigOffset)], 18),
    ),
  );
  const es384 = encodeCbor(
    new Map<number, unknown>([
      [1, -35],
      [4, A.kid],
    ]),
  );
  add(
    'alg-es384',
    'protected alg -35 (ES384), signed',
    await rawSign1(es384, new Map(), payload, { aad }),
  );
  const extra = encodeCbor(
    new Map<number, unknown>([
      [1, -7],
      [3, 0],
      [4, A.kid],
    ]),
  );
  add(
    'extra-protected-label',
    'protected content type added, signed',
    await rawSign1(extra, new Map(), payload, { aad }),
  );
  const algOnly = encodeCbor(new Map<number, unknown>([[1, -7]]));
  add(
    'kid-unprotected',
    'kid moved to the unprotected header, signed',
    await rawSign1(algOnly, new Map([[4, A.kid]]), payload, { aad }),
  );
  const crit = encodeCbor(
    new Map<number, unknown>([
      [1, -7],
      [2, [99]],
      [4, A.kid],
    ]),
  );
  add(
    'crit',
    'crit header naming label 99, signed',
    await rawSign1(crit, new Map(), payload, { aad }),
  );
  add(
    'empty-protected',
    'zero-length protected header, alg and kid unprotected',
    await rawSign1(
      new Uint8Array(0),
      new Map<number, unknown>([
        [1, -7],
        [4, A.kid],
      ]),
      payload,
      { aad },
    ),
  );
  add(
    'unprotected-duplicate-key',
    'unprotected map {33: 1, 33: 2} (duplicate label)',
    mustReplace(hex, `${protHex}a0`, `${protHex}a2182101182102`),
  );
  if (TEST_KEY_A.length !== 32) throw new Error('test key');
}

export async function buildVectors(): Promise<Files> {
  const files: Files = new Map();
  for (const [i, n] of INCLUSION_PROBES) inclusionCases(files, i, n);
  for (const [m, n] of CONSISTENCY_PROBES) consistencyCases(files, m, n);
  await coseCases(files);
  await structureVectors(files);
  files.set('merkle/README.md', MERKLE_README);
  files.set('cose/README.md', COSE_README);
  return files;
}

const MERKLE_README = `# Merkle proof vectors (generated)

Written by \`test/vectors/generate.ts\`; do not edit. Format: docs/FORMAT.md.

Tree leaves: leaf i has data = UTF-8 \`leaf-<i>\`, leaf hash = SHA-256(0x00 || data).
\`inclusion/i<index>-n<size>/\` and \`consistency/m<size1>-n<size2>/\` hold one
\`happy-path.json\` and named mutations. Fields are hex; \`proofCbor\` is the wire
form (InclusionProof or ConsistencyProof). \`check\` is null when the case must
verify, else the name of the check that must reject it (medchain's names;
another implementation need only agree that it fails).

To check a case: decode \`proofCbor\` (a failure must be \`check\`); the decoded
sizes and path must equal the JSON fields; then verify them against
\`leafHash\`/\`root\` (inclusion) or \`root1\`/\`root2\` (consistency).
`;

const COSE_README = `# COSE_Sign1 vectors (generated)

Written by \`test/vectors/generate.ts\`; do not edit. Format: docs/FORMAT.md.

Signed with a FIXED TEST KEY (private scalar = SHA-256 of the ASCII text
\`medchain test key A\`; see test/helpers/test-keys.ts): public on purpose,
never a production key. ES256 signatures are deterministic (RFC 6979), so
the files regenerate byte for byte.

Each case: \`cose\` (message, hex), \`publicKey\` (65-byte uncompressed
P-256 point), \`expectedKid\`, \`externalAad\` (empty = none) and \`check\`:
null when the message must verify under the medchain profile, else the check
that must reject it.
`;

async function main(): Promise<void> {
  const out = process.argv[2] ?? join(process.cwd(), 'test/vectors');
  const files = await buildVectors();
  for (const sub of ['merkle', 'cose', 'structures'])
    rmSync(join(out, sub), { recursive: true, force: true });
  for (const [path, content] of files) {
    mkdirSync(dirname(join(out, path)), { recursive: true });
    writeFileSync(join(out, path), content);
  }
  console.log(`wrote ${files.size} vector files under ${out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
