/**
 * Merkle root of 100k leaf hashes: the flat level-by-level merkleRoot against the
 * incremental MerkleBuilder. Run: npm run build && node dist/bench/merkle.js
 */
import { leafHash, merkleRoot } from '../core/merkle.js';
import { MerkleBuilder } from '../core/merkle-builder.js';

const n = 100_000;
const leaves = Array.from({ length: n }, (_, i) => leafHash(Uint8Array.of(i, i >> 8, i >> 16)));

function time(name: string, fn: () => void, runs = 5): void {
  fn(); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) fn();
  const ms = Number(process.hrtime.bigint() - start) / 1e6 / runs;
  console.log(JSON.stringify({ bench: 'merkle-root', impl: name, leaves: n, ms: +ms.toFixed(2) }));
}

time('merkleRoot', () => merkleRoot(leaves));
time('MerkleBuilder', () => {
  const b = new MerkleBuilder();
  for (const h of leaves) b.append(h);
  b.root();
});
