import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { fromHex, toHex } from '../../core/bytes.js';
import { verifySign1 } from '../../core/cose-verify.js';
import { decodeConsistencyProof, decodeInclusionProof } from '../../core/merkle-cbor.js';
import { verifyConsistency, verifyInclusion } from '../../core/merkle-verify.js';
import { buildVectors } from '../vectors/generate.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../vectors');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
const files = [...walk(join(root, 'merkle')), ...walk(join(root, 'cose'))];
const cases = files.filter((f) => f.endsWith('.json'));
const read = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;
const hexes = (v: unknown) => (v as string[]).map(fromHex);
const str = (v: unknown) => v as string;

t.test('the committed vectors are exactly what the generator writes', async (t) => {
  const built = await buildVectors();
  t.same(files.map((f) => relative(root, f)).sort(), [...built.keys()].sort(), 'same file set');
  const stale = [...built].filter(([p, c]) => readFileSync(join(root, p), 'utf8') !== c);
  t.same(
    stale.map(([p]) => p),
    [],
    'no stale file: rerun node dist/test/vectors/generate.js',
  );
});

t.test('every vector gives its expected check', async (t) => {
  const wrong: string[] = [];
  let happy = 0;
  for (const f of cases) {
    const v = read(f);
    const want = v.check as string | null;
    if (want === null) happy++;
    let got: string;
    const kind = relative(root, f).split('/').slice(0, 2).join('/');
    if (kind === 'merkle/inclusion') {
      const d = decodeInclusionProof(fromHex(str(v.proofCbor)));
      if (!d.ok) got = d.check;
      else {
        const same =
          d.proof.leafIndex === v.leafIdx &&
          d.proof.treeSize === v.treeSize &&
          d.proof.path.map(toHex).join() === (v.proof as string[]).join();
        const r = verifyInclusion(
          d.proof.leafIndex,
          d.proof.treeSize,
          fromHex(str(v.leafHash)),
          d.proof.path,
          fromHex(str(v.root)),
        );
        got = same ? (r.ok ? 'ok' : r.check) : 'cbor differs from json';
      }
    } else if (kind === 'merkle/consistency') {
      const d = decodeConsistencyProof(fromHex(str(v.proofCbor)));
      const proof = hexes(v.proof);
      if (!d.ok) got = d.check;
      else if (d.proof.size1 !== v.size1 || d.proof.size2 !== v.size2) got = 'cbor differs';
      else {
        const r = verifyConsistency(
          d.proof.size1,
          d.proof.size2,
          fromHex(str(v.root1)),
          fromHex(str(v.root2)),
          proof,
        );
        got = r.ok ? 'ok' : r.check;
      }
    } else {
      const aad = str(v.externalAad);
      const r = verifySign1(fromHex(str(v.cose)), fromHex(str(v.publicKey)), {
        expectedKid: fromHex(str(v.expectedKid)),
        ...(aad === '' ? {} : { externalAad: fromHex(aad) }),
      });
      got = r.ok ? 'ok' : r.check;
    }
    if (got !== (want ?? 'ok'))
      wrong.push(`${relative(root, f)}: want ${want ?? 'ok'}, got ${got}`);
  }
  t.same(wrong, [], `all ${cases.length} cases as expected`);
  t.equal(happy, 16, '7 inclusion + 7 consistency + 2 COSE valid cases');
  t.ok(cases.length > 150, `${cases.length} cases`);
});
