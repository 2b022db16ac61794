import { createHash } from 'node:crypto';
import t from 'tap';
import { BAD_INPUT, fromHex, toHex } from '../../core/bytes.js';
import { EMPTY_ROOT, leafHash, merkleRoot, nodeHash } from '../../core/merkle.js';
import { MerkleBuilder } from '../../core/merkle-builder.js';
import { consistencyProof, inclusionProof } from '../../core/merkle-proof.js';
import { verifyConsistency, verifyInclusion } from '../../core/merkle-verify.js';
import { CONSISTENCY, INCLUSION, LEAF_HASHES, LEAF_INPUTS, ROOTS } from './rfc6962-data.js';

/** Reference MTH written straight from RFC 9162 §2.1.1, with node:crypto, sharing no code with core/. */
function refMth(leaves: Uint8Array[]): string {
  const h = (...parts: Uint8Array[]) => {
    const c = createHash('sha256');
    for (const p of parts) c.update(p);
    return c.digest();
  };
  const mth = (d: Uint8Array[]): Uint8Array => {
    if (d.length === 0) return h();
    if (d.length === 1) return h(Uint8Array.of(0), d[0]!);
    let k = 1;
    while (k * 2 < d.length) k *= 2;
    return h(Uint8Array.of(1), mth(d.slice(0, k)), mth(d.slice(k)));
  };
  return toHex(mth(leaves));
}

const kat = LEAF_INPUTS.map(fromHex);
const katHashes = kat.map(leafHash);

t.test('RFC 6962 reference tree: leaf hashes and roots of sizes 0..8', async (t) => {
  t.same(katHashes.map(toHex), LEAF_HASHES);
  t.equal(toHex(EMPTY_ROOT), ROOTS[0]);
  for (let n = 0; n <= 8; n++) {
    t.equal(toHex(merkleRoot(katHashes.slice(0, n))), ROOTS[n], `merkleRoot, size ${n}`);
    t.equal(toHex(merkleRoot(katHashes, 0, n)), ROOTS[n], `merkleRoot range, size ${n}`);
    const b = new MerkleBuilder();
    for (const h of katHashes.slice(0, n)) b.append(h);
    t.equal(toHex(b.root()), ROOTS[n], `builder, size ${n}`);
  }
});

t.test('RFC 6962 reference inclusion proofs are generated and verify', async (t) => {
  for (const v of INCLUSION) {
    const proof = inclusionProof(katHashes, v.leafIdx, v.treeSize);
    t.same(proof.map(toHex), v.proof, `PATH(${v.leafIdx}, D[${v.treeSize}])`);
    const root = fromHex(ROOTS[v.treeSize]!);
    const r = verifyInclusion(
      v.leafIdx,
      v.treeSize,
      katHashes[v.leafIdx]!,
      v.proof.map(fromHex),
      root,
    );
    t.same(r, { ok: true });
  }
});

t.test('RFC 6962 reference consistency proofs are generated and verify', async (t) => {
  for (const v of CONSISTENCY) {
    const proof = consistencyProof(katHashes, v.size1, v.size2);
    t.same(proof.map(toHex), v.proof, `PROOF(${v.size1}, D[${v.size2}])`);
    const r = verifyConsistency(
      v.size1,
      v.size2,
      fromHex(ROOTS[v.size1]!),
      fromHex(ROOTS[v.size2]!),
      v.proof.map(fromHex),
    );
    t.same(r, { ok: true });
  }
});

// 130 leaves so that wrong sizes up to 2 * 64 have a real tree behind them.
const leafData = Array.from({ length: 130 }, (_, i) => Uint8Array.of(i, i >> 8, 0xa5));
const leaves = leafData.map(leafHash);
const roots = Array.from({ length: 131 }, (_, n) => merkleRoot(leaves, 0, n));

t.test(
  'roots agree with a recursive reference MTH, and the builder agrees at every size',
  async (t) => {
    const b = new MerkleBuilder();
    const bad: number[] = [];
    for (let n = 0; n <= 130; n++) {
      if (toHex(roots[n]!) !== refMth(leafData.slice(0, n))) bad.push(n);
      if (toHex(b.root()) !== toHex(roots[n]!)) bad.push(-n);
      if (n < 130) b.append(leaves[n]!);
      // Restoring from saved state gives the same tree.
      if (n % 17 === 0 && toHex(MerkleBuilder.fromState(b.state()).root()) !== toHex(b.root())) {
        bad.push(1000 + n);
      }
    }
    t.same(bad, [], 'no size disagrees');
  },
);

const flip = (b: Uint8Array, bit: number) => {
  const c = b.slice();
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
};

t.test(
  'every inclusion proof of trees 1..64 verifies; every mutation fails with a named check',
  async (t) => {
    const failures: string[] = [];
    const checks = new Map<string, number>();
    let sizeNotBound = 0;
    const expectFail = (what: string, r: ReturnType<typeof verifyInclusion>, allowed: string[]) => {
      if (r.ok) failures.push(`${what}: verified`);
      else {
        checks.set(r.check, (checks.get(r.check) ?? 0) + 1);
        if (!allowed.includes(r.check)) failures.push(`${what}: check ${r.check}`);
      }
    };
    for (let size = 1; size <= 64; size++) {
      const root = roots[size]!;
      for (let i = 0; i < size; i++) {
        const leaf = leaves[i]!;
        const proof = inclusionProof(leaves, i, size);
        const id = `size ${size} index ${i}`;
        if (!verifyInclusion(i, size, leaf, proof, root).ok)
          failures.push(`${id}: valid proof failed`);
        // Every element, one bit each (all 256 bits for one tree so each bit position is covered).
        proof.forEach((_, e) => {
          const bits = size === 13 ? [...Array(256).keys()] : [(i * 7 + e * 13 + size) % 256];
          for (const bit of bits) {
            const p = proof.map((x, k) => (k === e ? flip(x, bit) : x));
            expectFail(`${id} proof[${e}] bit ${bit}`, verifyInclusion(i, size, leaf, p, root), [
              'root-mismatch',
            ]);
          }
        });
        expectFail(`${id} leaf bit`, verifyInclusion(i, size, flip(leaf, i % 256), proof, root), [
          'root-mismatch',
        ]);
        expectFail(`${id} root bit`, verifyInclusion(i, size, leaf, proof, flip(root, 9)), [
          'root-mismatch',
        ]);
        for (const j of [i + 1, i - 1, size, i + size]) {
          if (j < 0 || j === i) continue;
          expectFail(`${id} as index ${j}`, verifyInclusion(j, size, leaf, proof, root), [
            'root-mismatch',
            'proof-length',
            'index-out-of-range',
          ]);
        }
        if (proof.length > 0) {
          expectFail(`${id} truncated`, verifyInclusion(i, size, leaf, proof.slice(0, -1), root), [
            'proof-length',
          ]);
        }
        expectFail(`${id} extended`, verifyInclusion(i, size, leaf, [...proof, leaf], root), [
          'proof-length',
        ]);
        expectFail(`${id} prepended`, verifyInclusion(i, size, leaf, [leaf, ...proof], root), [
          'proof-length',
        ]);
        // A proof does not carry its tree size (RFC 9162 §2.1.3.2 only checks the path
        // shape): a wrong size must fail whenever it changes the shape; otherwise the
        // size has to come from the signed checkpoint, which FORMAT.md requires.
        for (const s of [size - 1, size + 1, size * 2]) {
          if (s <= i || s === size) continue;
          const r = verifyInclusion(i, s, leaf, proof, root);
          if (r.ok) {
            sizeNotBound++;
            if (inclusionProof(leaves, i, s).length !== proof.length) {
              failures.push(`${id} as size ${s}: verified with a different shape`);
            }
          } else if (!['root-mismatch', 'proof-length'].includes(r.check)) {
            failures.push(`${id} as size ${s}: check ${r.check}`);
          }
        }
      }
    }
    t.same(failures, [], 'all valid proofs verify and all mutations fail as expected');
    t.ok(checks.get('root-mismatch'), 'root-mismatch seen');
    t.ok(checks.get('proof-length'), 'proof-length seen');
    t.ok(checks.get('index-out-of-range'), 'index-out-of-range seen');
    t.comment(`wrong sizes with an unchanged path shape that verified: ${sizeNotBound}`);
  },
);

t.test('every consistency proof m..n of trees 1..64 verifies; every mutation fails', async (t) => {
  const failures: string[] = [];
  const checks = new Map<string, number>();
  const expectFail = (what: string, r: ReturnType<typeof verifyConsistency>, allowed: string[]) => {
    if (r.ok) failures.push(`${what}: verified`);
    else {
      checks.set(r.check, (checks.get(r.check) ?? 0) + 1);
      if (!allowed.includes(r.check)) failures.push(`${what}: check ${r.check}`);
    }
  };
  const mismatch = ['root1-mismatch', 'root2-mismatch'];
  for (let n = 1; n <= 64; n++) {
    for (let m = 0; m <= n; m++) {
      const r1 = roots[m]!;
      const r2 = roots[n]!;
      const proof = consistencyProof(leaves, m, n);
      const id = `${m}->${n}`;
      if (!verifyConsistency(m, n, r1, r2, proof).ok) failures.push(`${id}: valid proof failed`);
      proof.forEach((_, e) => {
        const bits = n === 13 ? [...Array(256).keys()] : [(m * 5 + e * 11 + n) % 256];
        for (const bit of bits) {
          const p = proof.map((x, k) => (k === e ? flip(x, bit) : x));
          expectFail(`${id} proof[${e}] bit ${bit}`, verifyConsistency(m, n, r1, r2, p), mismatch);
        }
      });
      if (m > 0) {
        expectFail(`${id} root1 bit`, verifyConsistency(m, n, flip(r1, 3), r2, proof), [
          ...mismatch,
        ]);
      }
      if (m > 0 && m < n) {
        expectFail(`${id} root2 bit`, verifyConsistency(m, n, r1, flip(r2, 3), proof), mismatch);
        expectFail(`${id} truncated`, verifyConsistency(m, n, r1, r2, proof.slice(0, -1)), [
          'proof-length',
        ]);
      }
      expectFail(`${id} extended`, verifyConsistency(m, n, r1, r2, [...proof, r1]), [
        'proof-length',
      ]);
      expectFail(`${id} swapped sizes`, verifyConsistency(n + 1, m, r1, r2, proof), ['size-order']);
      // Another old size with the right old root for it: must not be provable with this proof.
      if (m > 1 && m < n) {
        expectFail(
          `${id} as ${m - 1}->${n}`,
          verifyConsistency(m - 1, n, roots[m - 1]!, r2, proof),
          [...mismatch, 'proof-length'],
        );
      }
    }
  }
  t.same(failures, [], 'all valid proofs verify and all mutations fail as expected');
  for (const c of ['root1-mismatch', 'root2-mismatch', 'proof-length', 'size-order']) {
    t.ok(checks.get(c), `${c} seen`);
  }
});

t.test('hostile input gets a named check, never an exception', async (t) => {
  const leaf = leaves[0]!;
  const root = roots[2]!;
  const p = inclusionProof(leaves, 0, 2);
  const cases: [string, () => ReturnType<typeof verifyInclusion>, string][] = [
    ['NaN index', () => verifyInclusion(Number.NaN, 2, leaf, p, root), 'malformed-input'],
    ['fractional size', () => verifyInclusion(0, 2.5, leaf, p, root), 'malformed-input'],
    ['negative index', () => verifyInclusion(-1, 2, leaf, p, root), 'malformed-input'],
    ['2^53 size', () => verifyInclusion(0, 2 ** 53, leaf, p, root), 'malformed-input'],
    ['short leaf', () => verifyInclusion(0, 2, leaf.subarray(1), p, root), 'malformed-input'],
    ['string root', () => verifyInclusion(0, 2, leaf, p, 'x' as never), 'malformed-input'],
    ['proof not array', () => verifyInclusion(0, 2, leaf, {} as never, root), 'malformed-input'],
    [
      '33-byte element',
      () => verifyInclusion(0, 2, leaf, [new Uint8Array(33)], root),
      'proof-element',
    ],
    ['null element', () => verifyInclusion(0, 2, leaf, [null as never], root), 'proof-element'],
    ['size 0', () => verifyInclusion(0, 0, leaf, [], root), 'index-out-of-range'],
    ['huge size', () => verifyInclusion(0, 2 ** 52, leaf, p, root), 'proof-length'],
    ['consistency NaN', () => verifyConsistency(Number.NaN, 2, root, root, []), 'malformed-input'],
    [
      'consistency bad root2',
      () => verifyConsistency(1, 2, leaf, new Uint8Array(), []),
      'malformed-input',
    ],
    ['consistency empty', () => verifyConsistency(1, 2, leaf, root, []), 'proof-length'],
    [
      'consistency 0->n not empty',
      () => verifyConsistency(0, 2, EMPTY_ROOT, root, [leaf]),
      'proof-length',
    ],
    [
      'consistency 0->n wrong old root',
      () => verifyConsistency(0, 2, leaf, root, []),
      'root1-mismatch',
    ],
    [
      'consistency n->n other root',
      () => verifyConsistency(2, 2, leaf, root, []),
      'root2-mismatch',
    ],
  ];
  for (const [name, run, check] of cases) {
    const r = run();
    t.equal(r.ok ? 'ok' : r.check, check, name);
  }
  const mm = verifyInclusion(0, 2, leaf, p, roots[3]!);
  t.ok(!mm.ok && mm.expected && mm.actual, 'root-mismatch carries expected and actual');
  if (!mm.ok) {
    t.equal(toHex(mm.expected!), toHex(roots[3]!));
    t.equal(toHex(mm.actual!), toHex(root));
  }
  t.same(
    verifyConsistency(0, 5, EMPTY_ROOT, roots[5]!, []),
    { ok: true },
    'empty tree is a prefix',
  );
});

t.test('generation asserts its inputs, naming the parameter', async (t) => {
  t.throws(() => inclusionProof(leaves, 5, 5), { code: BAD_INPUT, message: /index/ });
  t.throws(() => inclusionProof(leaves, 0, 131), { code: BAD_INPUT, message: /size/ });
  t.throws(() => consistencyProof(leaves, 6, 5), { code: BAD_INPUT, message: /size1/ });
  t.throws(() => merkleRoot([new Uint8Array(31)]), { code: BAD_INPUT, message: /leafHashes\[0\]/ });
  t.throws(() => nodeHash(leaves[0]!, new Uint8Array(1)), { code: BAD_INPUT, message: /right/ });
  t.throws(() => new MerkleBuilder().append(new Uint8Array(0)), { code: BAD_INPUT });
  t.throws(() => MerkleBuilder.fromState({ size: 3, hashes: [leaves[0]!] }), {
    code: BAD_INPUT,
    message: /2 subtree roots/,
  });
});

t.test('100k leaves: flat root equals the incremental builder', async (t) => {
  const n = 100_000;
  const big = Array.from({ length: n }, (_, i) => {
    const d = new Uint8Array(8);
    new DataView(d.buffer).setUint32(0, i);
    return leafHash(d);
  });
  const b = new MerkleBuilder();
  for (const h of big) b.append(h);
  t.equal(toHex(merkleRoot(big)), toHex(b.root()));
  t.equal(b.state().hashes.length, 6, 'popcount(100000) = 6 hashes of state');
});
