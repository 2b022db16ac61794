/**
 * Notary proofs at 100k entries: open time, retained heap after open, and the time of
 * RFC 9162 inclusion and consistency proofs (with their roots) served by ChainStore.
 * The chain is built once in a separate process so the measuring process holds only
 * what the store keeps. Run:
 *   npm run build && node --expose-gc dist/bench/chain-proofs.js [entries] [db] [proofs]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChainStore, type Registration } from '../broker/chain-store.js';

const entries = Number(process.argv[2] ?? 100_000);
const given = process.argv[3];
const runs = Number(process.argv[4] ?? 200);
const dir = given ? undefined : mkdtempSync(join(tmpdir(), 'medchain-bench-'));
const db = given ?? join(dir ?? '.', 'chain.db');

async function build(path: string, n: number): Promise<void> {
  const store = await ChainStore.open(path, { synchronous: 'OFF' });
  const seqs = new Map<string, number>();
  for (let done = 0; done < n; ) {
    const regs: Registration[] = [];
    for (; regs.length < 1000 && done + regs.length < n; ) {
      const gateway = `gw-${regs.length % 4}`;
      const seq = (seqs.get(gateway) ?? 0) + 1;
      seqs.set(gateway, seq);
      regs.push({
        gateway,
        seq,
        kid: randomBytes(32),
        signedHeader: randomBytes(120),
        bodyHash: randomBytes(32),
        body: randomBytes(64),
        internal: randomBytes(32),
      });
    }
    await store.append(regs, Date.now());
    done += regs.length;
  }
  await store.close();
}

const gc = (globalThis as { gc?: () => void }).gc;
const heapMiB = (): number => {
  gc?.();
  return +(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1);
};

if (process.env.MEDCHAIN_BENCH_BUILD === '1') {
  await build(db, entries);
} else {
  if (!existsSync(db)) {
    execFileSync(process.execPath, [process.argv[1]!, String(entries), db], {
      env: { ...process.env, MEDCHAIN_BENCH_BUILD: '1' },
      stdio: 'inherit',
    });
  }
  const before = heapMiB();
  let t0 = performance.now();
  const store = await ChainStore.open(db);
  const openMs = performance.now() - t0;
  const retained = heapMiB() - before;
  const size = store.size;
  const pick = (max: number) => 1 + Math.floor(Math.random() * max);
  t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    const s = pick(size);
    await store.inclusionProof(pick(s), s);
    await store.rootAt(s);
  }
  const inclusionUs = ((performance.now() - t0) / runs) * 1000;
  t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    const to = pick(size);
    const from = pick(to);
    await store.consistencyProof(from, to);
    await store.rootAt(from);
    await store.rootAt(to);
  }
  const consistencyUs = ((performance.now() - t0) / runs) * 1000;
  const rssMiB = +(process.memoryUsage().rss / 2 ** 20).toFixed(1);
  const heapAfterProofs = heapMiB() - before;
  await store.close();
  console.log(
    JSON.stringify({
      bench: 'chain-proofs',
      entries: size,
      proofs: runs,
      openMs: Math.round(openMs),
      retainedHeapMiB: +retained.toFixed(1),
      heapAfterProofsMiB: +heapAfterProofs.toFixed(1),
      rssMiB,
      inclusionWithRootUs: Math.round(inclusionUs),
      consistencyWithRootsUs: Math.round(consistencyUs),
      gc: gc !== undefined,
    }),
  );
  if (dir) rmSync(dir, { recursive: true, force: true });
}
