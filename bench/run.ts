import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { isMedchainError } from '../errors/medchain-error.js';
import { benchCore } from './core.js';
import { benchE2e, type E2eBench } from './e2e.js';
import { printE2e } from './e2e-report.js';
import { parseBenchFlags } from './flags.js';
import { benchHsm } from './hsm.js';
import { benchThroughput, THROUGHPUT_FULL, THROUGHPUT_QUICK } from './throughput.js';
import { printThroughput, withTempDir } from './throughput-report.js';
import { benchVerify } from './verify.js';

const flags = usage(() => parseBenchFlags(process.argv.slice(2)));

function usage<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (!isMedchainError(err)) throw err;
    process.stderr.write(`medchain bench: ${err.code}: ${err.message}\n`);
    process.exit(2);
  }
}
const { quick, settings } = flags;

function table(title: string, rows: object[]): void {
  process.stdout.write(`\n${title}\n`);
  console.table(rows);
}

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
};
process.stdout.write(
  `medchain bench (${quick ? 'quick' : 'full'}) on ${machine.cpus}x ${machine.cpuModel}, node ${machine.node}\n`,
);

const started = performance.now();
const micro = flags.e2eOnly || flags.throughputOnly ? null : await benchMicro();

async function benchMicro() {
  const hsm = await benchHsm({ quick });
  table('HSM: SoftHSM2 ECDSA P-256 signs', hsm);
  const child = hsm.find((r) => r.path === 'child process (serial)');
  const inProc = hsm.find((r) => r.path.startsWith('in-process async'));
  const ratios = {
    childVsInProcessThroughput:
      child && inProc ? Number((child.signsPerSec / inProc.signsPerSec).toFixed(2)) : null,
    processBoundaryUs:
      child?.serialMeanUs !== undefined && inProc?.serialMeanUs !== undefined
        ? child.serialMeanUs - inProc.serialMeanUs
        : null,
  };
  table('Ratios', [ratios]);

  const core = await benchCore({ quick });
  table('Core: 1000-reading block (software signer; HSM signs are above)', [core.block]);
  table('Verifier (block signature + body hash) against raw SHA-256 of the same bytes', [
    core.verifier,
  ]);
  table('Merkle root over 100k leaves (ms)', [core.merkle]);
  table('Proof sizes (bytes, CBOR)', [core.proofs]);
  const verify = await benchVerify({ quick });
  table(
    `Export verification (${verify.entries} entries; 2 ECDSA verifies per block) against ECDSA P-256 and SHA-256 on this machine`,
    [verify],
  );
  return { hsm, core, ratios, verify };
}

const log = (line: string) =>
  process.stdout.write(`${((performance.now() - started) / 1000).toFixed(1)} s ${line}\n`);
let e2e: E2eBench | null = null;
if (!flags.throughputOnly) {
  process.stdout.write('\nEnd to end: one load generator, three targets\n');
  e2e = await benchE2e({ settings, profile: flags.profile, log });
  printE2e(e2e, micro?.core.verifier ?? null, table);
}
process.stdout.write('\nCPU per reading and the sustained rate\n');
const throughput = await withTempDir((dir) =>
  benchThroughput({ dir, settings: quick ? THROUGHPUT_QUICK : THROUGHPUT_FULL, log }),
);
printThroughput(throughput, table);

const result = {
  when: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  machine,
  loadAverage: loadavg().map((x) => Math.round(x * 10) / 10),
  seconds: Math.round((performance.now() - started) / 1000),
  hsm: micro?.hsm ?? null,
  core: micro?.core ?? null,
  verify: micro?.verify ?? null,
  e2e,
  throughput,
  ratios: {
    ...micro?.ratios,
    verifierVsSha256: micro?.core.verifier.ratio ?? null,
    exportVerifyVsAllCoreEcdsa: micro?.verify.ratioToAllCoreEcdsa ?? null,
    fullVsAedes: e2e?.ratios.fullVsAedes ?? null,
    fullVsMosquitto: e2e?.ratios.fullVsMosquitto ?? null,
    cpuFullVsAedesClinic: throughput.ratios.clinicFullVsAedes,
    cpuFullVsAedesSaturation: throughput.ratios.saturationFullVsAedes,
  },
};
const dir = join(process.cwd(), 'bench', 'results');
mkdirSync(dir, { recursive: true });
const file = flags.out ?? join(dir, `bench-${result.when.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`\nresults written to ${file}\n`);
