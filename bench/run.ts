import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
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

const result = {
  when: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  machine,
  hsm,
  ratios,
};
const dir = join(process.cwd(), 'bench', 'results');
mkdirSync(dir, { recursive: true });
const file = values.out ?? join(dir, `bench-${result.when.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`\nresults written to ${file}\n`);
