/**
 * SHA-256 throughput: @noble/hashes (pure JS) against node:crypto (OpenSSL),
 * both its streaming createHash and its one-shot crypto.hash.
 * Decides which one core/hash.ts uses. Run: npm run build && node dist/bench/hash.js
 * Prints a table and one JSON line per size (machine-readable, see DESIGN §9).
 */
import { createHash, hash } from 'node:crypto';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

type Impl = (b: Uint8Array) => Uint8Array;

const impls: Record<string, Impl> = {
  noble: (b) => nobleSha256(b),
  createHash: (b) => createHash('sha256').update(b).digest(),
  // One-shot crypto.hash (Node >= 20.12): no Hash object per call.
  hash: (b) => hash('sha256', b, 'buffer'),
};

const sizes = [32, 65, 256, 1024, 4096, 16384, 65536, 262144, 1048576];

/** Runs `fn` for at least `ms` milliseconds, returns operations per second. */
function opsPerSec(fn: Impl, input: Uint8Array, ms: number): number {
  for (let i = 0; i < 50; i++) fn(input); // warm-up: let V8 optimise before timing
  let n = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(ms) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < 16; i++) fn(input);
    n += 16;
    elapsed = process.hrtime.bigint() - start;
  }
  return n / (Number(elapsed) / 1e9);
}

const names = Object.keys(impls);
const rows: string[] = [];
rows.push(
  ['size(B)', ...names.map((n) => `${n} ops/s`), ...names.map((n) => `${n} MB/s`)]
    .map((c) => c.padStart(18))
    .join(''),
);
for (const size of sizes) {
  const input = new Uint8Array(size).map((_, i) => i & 0xff);
  const ms = size >= 65536 ? 400 : 250;
  const ops = names.map((n) => opsPerSec(impls[n]!, input, ms));
  const mb = ops.map((o) => (o * size) / 1e6);
  rows.push(
    [String(size), ...ops.map((o) => o.toFixed(0)), ...mb.map((m) => m.toFixed(1))]
      .map((c) => c.padStart(18))
      .join(''),
  );
  const result = Object.fromEntries(names.map((n, i) => [n, ops[i]]));
  console.error(JSON.stringify({ bench: 'sha256', size, opsPerSec: result }));
}
console.log(rows.join('\n'));
