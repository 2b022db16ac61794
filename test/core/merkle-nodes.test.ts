import t from 'tap';
import { leafHash, merkleRoot } from '../../core/merkle.js';
import { MerkleBuilder } from '../../core/merkle-builder.js';
import {
  completedAt,
  consistencyPlan,
  evalExpr,
  inclusionPlan,
  type MerkleExpr,
  nodeKey,
  planNodes,
  rangeExpr,
  rootPlan,
} from '../../core/merkle-nodes.js';
import { consistencyProof, inclusionProof } from '../../core/merkle-proof.js';

const N = 5000;
const leaves = Array.from({ length: N }, (_, i) => leafHash(Uint8Array.of(i, i >> 8, 7)));
/** Every node a log stores, as MerkleBuilder.appendNodes reports them while appending. */
const nodes = new Map<string, Uint8Array>();
const builder = new MerkleBuilder();
for (const l of leaves) for (const n of builder.appendNodes(l)) nodes.set(nodeKey(n), n.hash);

/** Evaluates against only the nodes the plan names, as a store answering planNodes() would. */
function run(exprs: MerkleExpr[]): Uint8Array[] {
  const fetched = new Map(planNodes(exprs).map((id) => [nodeKey(id), nodes.get(nodeKey(id))!]));
  return exprs.map((e) => evalExpr(e, fetched));
}

t.test('appendNodes reports each complete subtree once, with its RFC 9162 root', async (t) => {
  let count = 0;
  let bad = 0;
  for (const [key, hash] of nodes) {
    const [level, index] = key.split('/').map(Number) as [number, number];
    const lo = index * 2 ** level;
    if (completedAt({ level, index }) > N) bad++;
    if (Buffer.compare(merkleRoot(leaves, lo, lo + 2 ** level), hash) !== 0) bad++;
    count++;
  }
  t.equal(bad, 0);
  // n leaves complete 2n - popcount(n) perfect subtrees.
  const pop = N.toString(2).replace(/0/g, '').length;
  t.equal(count, 2 * N - pop);
  t.same(builder.root(), merkleRoot(leaves));
});

t.test('every (m, n) up to 70: plans over stored nodes give core’s proofs and roots', async (t) => {
  let mismatches = 0;
  for (let n = 1; n <= 70; n++) {
    if (Buffer.compare(run([rootPlan(n)!])[0]!, merkleRoot(leaves, 0, n)) !== 0) mismatches++;
    for (let m = 0; m <= n; m++) {
      if (m < n && !same(run(inclusionPlan(m, n)), inclusionProof(leaves, m, n))) mismatches++;
      if (!same(run(consistencyPlan(m, n)), consistencyProof(leaves, m, n))) mismatches++;
    }
  }
  t.equal(mismatches, 0);
  t.equal(rootPlan(0), undefined, 'the empty tree reads no node');
});

t.test('random larger sizes: same proofs, O(log n) nodes read', async (t) => {
  let mismatches = 0;
  let maxNodes = 0;
  for (let i = 0; i < 300; i++) {
    const n = 1 + Math.floor(Math.random() * N);
    const m = Math.floor(Math.random() * (n + 1));
    const inc = inclusionPlan(Math.min(m, n - 1), n);
    const cons = consistencyPlan(m, n);
    maxNodes = Math.max(maxNodes, planNodes(inc).length, planNodes(cons).length);
    if (!same(run(inc), inclusionProof(leaves, Math.min(m, n - 1), n))) mismatches++;
    if (!same(run(cons), consistencyProof(leaves, m, n))) mismatches++;
  }
  t.equal(mismatches, 0);
  // log2(5000) < 13: a path and one right-edge range, each at most one node per level.
  t.ok(maxNodes <= 2 * 13, `at most ${maxNodes} nodes per proof`);
});

t.test('bad requests are refused; a node not supplied is named', async (t) => {
  t.throws(() => inclusionPlan(5, 5), /index/);
  t.throws(() => inclusionPlan(-1, 5), /index/);
  t.throws(() => consistencyPlan(6, 5), /size1/);
  t.throws(() => rootPlan(1.5), /size/);
  t.throws(() => rangeExpr(4, 4), /not a non-empty range/);
  t.throws(() => rangeExpr(-1, 4), /not a non-empty range/);
  t.throws(() => evalExpr(rangeExpr(0, 3), new Map()), /merkle node 1\/0 was not supplied/);
});

function same(a: Uint8Array[], b: Uint8Array[]): boolean {
  return a.length === b.length && a.every((x, i) => Buffer.compare(x, b[i]!) === 0);
}
