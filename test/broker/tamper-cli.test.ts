/**
 * Must show (issue 15): `medchain verify` on a truncated-and-rewritten export, on a
 * signature-stripped export and on forged equivocation evidence exits 1 naming the
 * check; the untouched export exits 0, and `--upstream` / `--checkpoint` catch a cut
 * at a size the notary once signed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { ExportItem } from '../../broker/export.js';
import { createTestPki } from '../helpers/pki.js';
import { medchain } from './cli-helpers.js';
import { encode, items, makeTamperFixture, relink } from './tamper-fixture.js';

const pki = await createTestPki(t);
const inst = await pki.participant('notary', 'notary-1');
const region = await pki.participant('notary', 'regional');
const gws = [
  await pki.participant('gateway', 'gw-1'),
  await pki.participant('gateway', 'gw-2'),
] as const;
const fx = await makeTamperFixture(t, pki, { inst, region, gws });
const all = items(fx.institution);

function file(name: string, list: readonly ExportItem[]): string {
  const path = join(fx.dir, name);
  writeFileSync(path, encode(list));
  return path;
}
const verify = (path: string, ...extra: string[]) =>
  medchain(['verify', path, '--root', pki.rootPath, ...extra]);

t.test('medchain verify names the check of each forgery', async (t) => {
  const good = verify(join(fx.dir, 'notary-1.chain'));
  t.equal(good.status, 0, good.stdout + good.stderr);
  t.match(good.stdout, /^OK notary-1: 56 entries .*checkpoints \(the last at 56\)/);

  const size = [53, 52, 51].find((s) => !fx.checkpointSizes.includes(s))!;
  const cut = (n: number) =>
    relink(
      all.filter(
        (i) =>
          !(i.kind === 'entry' && i.height > n) &&
          !(i.kind === 'checkpoint' && i.size > n) &&
          !(i.kind === 'anchor' && i.size > n),
      ),
    );
  const truncated = verify(file('truncated.chain', cut(size)));
  t.equal(truncated.status, 1);
  t.match(
    truncated.stdout,
    new RegExp(
      `^FAIL at height ${size}: extent: the last checkpoint is of size \\d+, the export has ${size} entries`,
    ),
  );

  const signed = fx.checkpointSizes.filter((s) => s < fx.anchoredSize).at(-1)!;
  const older = file('older.chain', cut(signed));
  const up = verify(older, '--upstream', join(fx.dir, 'regional.chain'));
  t.equal(up.status, 1);
  t.match(
    up.stdout,
    new RegExp(
      `^FAIL at height ${signed}: truncated: .*size ${fx.anchoredSize}; the export has ${signed} entries`,
    ),
  );
  const last = all.find((i) => i.kind === 'checkpoint' && i.size === 56);
  if (last?.kind !== 'checkpoint') return t.fail('checkpoint 56');
  const witness = join(fx.dir, 'witness.cp');
  writeFileSync(witness, last.checkpoint);
  const w = verify(older, '--checkpoint', witness);
  t.equal(w.status, 1);
  t.match(w.stdout, /^FAIL at height \d+: truncated: given checkpoint 1 holds .* size 56/);

  const stripped = all
    .filter((i) => i.kind !== 'checkpoint' && i.kind !== 'anchor')
    .map((i) => (i.kind === 'entry' ? { ...i, receipt: undefined } : i));
  const bare = verify(file('stripped.chain', stripped), '--json');
  t.equal(bare.status, 1);
  t.match(JSON.parse(bare.stdout), { ok: false, check: 'extent', height: 56, actual: 'none' });

  const eq = all.find((i) => i.kind === 'equivocation');
  if (eq?.kind !== 'equivocation') return t.fail('equivocation item');
  const garbage = Uint8Array.from(eq.conflicting).fill(0x41, 20, 60);
  const forged = all.map((i) => (i === eq ? { ...eq, conflicting: garbage } : i));
  const framed = verify(file('forged.chain', forged));
  t.equal(framed.status, 1);
  t.match(framed.stdout, /^FAIL at height \d+: equivocation: gw-1 seq 2: conflicting header: /);
});
