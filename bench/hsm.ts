import { createHash, randomBytes } from 'node:crypto';
import { ChildSigner } from '../hsm/child-signer.js';
import { createSoftHsmSandbox, initToken } from '../hsm/softhsm.js';
import { Token } from '../hsm/token.js';

export interface HsmBenchRow {
  path: string;
  signs: number;
  signsPerSec: number;
  /** Event-loop delay while signing: p99 and max, in ms. */
  loopP99Ms: number;
  loopMaxMs: number;
  /** Mean latency of one sign when issued one at a time, in µs. */
  serialMeanUs?: number;
}

const digests = (n: number) =>
  Array.from({ length: n }, (_, i) => createHash('sha256').update(`bench ${i}`).digest());

async function measure(
  path: string,
  n: number,
  run: (ds: Buffer[]) => Promise<void> | void,
): Promise<HsmBenchRow> {
  const ds = digests(n);
  const gaps = loopGaps();
  const t0 = process.hrtime.bigint();
  await run(ds);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const { p99, max } = await gaps.stop();
  return { path, signs: n, signsPerSec: Math.round(n / secs), loopP99Ms: p99, loopMaxMs: max };
}

/**
 * Gaps between turns of a 1 ms interval timer: a loop blocked for 200 ms shows a
 * 200 ms gap (node's monitorEventLoopDelay under-reports one long block).
 */
function loopGaps(): { stop(): Promise<{ p99: number; max: number }> } {
  const gaps: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }, 1);
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 2));
      clearInterval(timer);
      gaps.sort((a, b) => a - b);
      const at = (q: number) => gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))] ?? 0;
      return { p99: Number(at(0.99).toFixed(2)), max: Number(at(1).toFixed(2)) };
    },
  };
}

async function serialMeanUs(n: number, sign: (d: Buffer) => Promise<unknown>): Promise<number> {
  const ds = digests(n);
  const t0 = process.hrtime.bigint();
  for (const d of ds) await sign(d);
  return Math.round(Number(process.hrtime.bigint() - t0) / 1e3 / n);
}

/**
 * SoftHSM2 ECDSA P-256 signs/s through three paths: synchronous C_Sign in this
 * process, C_Sign on libuv's pool (4 sessions), and the supervised child process;
 * plus the one-at-a-time latency of the last two, i.e. what the process boundary costs.
 */
export async function benchHsm(opts: { quick: boolean }): Promise<HsmBenchRow[]> {
  const n = opts.quick ? 1_000 : 10_000;
  const sandbox = createSoftHsmSandbox({ useInProcess: true });
  const pin = randomBytes(8).toString('hex');
  try {
    initToken({ label: 'bench', soPin: randomBytes(8).toString('hex'), userPin: pin });
    const token = Token.open({ label: 'bench', pin, sessions: 4 });
    token.generateKey('k');
    const signer = await ChildSigner.start({ token: 'bench', pin, keys: ['k'] });
    const parallel = await ChildSigner.start({ token: 'bench', pin, keys: ['k'], parallel: true });
    try {
      const rows = [
        await measure('in-process sync', n, (ds) => {
          for (const d of ds) token.signDigestSync('k', d);
        }),
        await measure('in-process async (4 sessions)', n, async (ds) => {
          await Promise.all(ds.map((d) => token.signDigest('k', d)));
        }),
        await measure('child process (serial)', n, async (ds) => {
          await Promise.all(ds.map((d) => signer.signDigest('k', d)));
        }),
        await measure('child process (parallel, 4 sessions)', n, async (ds) => {
          await Promise.all(ds.map((d) => parallel.signDigest('k', d)));
        }),
      ];
      const serial = opts.quick ? 200 : 2_000;
      const [, inProc, child] = rows;
      if (inProc) inProc.serialMeanUs = await serialMeanUs(serial, (d) => token.signDigest('k', d));
      if (child) child.serialMeanUs = await serialMeanUs(serial, (d) => signer.signDigest('k', d));
      return rows;
    } finally {
      await signer.close();
      await parallel.close();
      token.close();
    }
  } finally {
    sandbox.cleanup();
  }
}
