import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchCore } from './core.js';
import { benchHsm } from './hsm.js';

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, out: { type: 'string' } },
});
const quick = values.quick === true;

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

const result = {
  when: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  machine,
  hsm,
  core,
  ratios: { ...ratios, verifierVsSha256: core.verifier.ratio },
};
const dir = join(process.cwd(), 'bench', 'results');
mkdirSync(dir, { recursive: true });
const file = values.out ?? join(dir, `bench-${result.when.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`\nresults written to ${file}\n`);
