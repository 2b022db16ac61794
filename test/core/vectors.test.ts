import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { decodeBlock } from '../../core/block.js';
import { verifyBlock } from '../../core/block-verify.js';
import { fromHex, toHex } from '../../core/bytes.js';
import { verifySign1 } from '../../core/cose-verify.js';
import { decodeConsistencyProof, decodeInclusionProof } from '../../core/merkle-cbor.js';
import { verifyConsistency, verifyInclusion } from '../../core/merkle-verify.js';
import { p256PublicKey } from '../../core/p256.js';
import { verifyReadingProof } from '../../core/reading-proof.js';
import { verifyCheckpoint, verifyReceipt } from '../../core/receipt.js';
import { buildVectors } from '../vectors/generate.js';

/** The check a structure vector yields, or 'ok' (with its expected values) / 'expected differs'. */
async function structureCheck(kind: string, v: Record<string, unknown>): Promise<string> {
  const expected = v.expected as Record<string, unknown> | undefined;
  if (kind === 'block') {
    const d = decodeBlock(fromHex(str(v.block)));
    if (!d.ok) return d.check;
    const r = verifyBlock(d.value, fromHex(str(v.gatewayPublicKey)), {
      gatewayId: str(v.gatewayId),
      kid: fromHex(str(v.kid)),
    });
    if (!r.ok) return r.check;
    const same =
      r.header.seq === expected?.seq &&
      r.header.count === expected?.count &&
      toHex(r.hash) === expected?.hash;
    return same ? 'ok' : 'expected differs';
  }
  if (kind === 'receipt' || kind === 'checkpoint') {
    const key = fromHex(str(v.notaryPublicKey));
    const kid = fromHex(str(v.kid));
    const bytes = fromHex(str(v[kind]));
    if (kind === 'checkpoint') {
      const c = verifyCheckpoint(bytes, key, kid);
      return c.ok
        ? toHex(c.value.head) === expected?.entryHash
          ? 'ok'
          : 'expected differs'
        : c.check;
    }
    const r = verifyReceipt(bytes, key, kid);
    if (!r.ok) return r.check;
    const same =
      toHex(r.value.entryHash) === expected?.entryHash &&
      toHex(r.value.logRoot) === expected?.logRoot;
    return same ? 'ok' : 'expected differs';
  }
  const certs = v.certificates as Record<string, { role: string; id: string; publicKey: string }>;
  const r = await verifyReadingProof(fromHex(str(v.proof)), async (der, role, id) => {
    const c = certs[toHex(der)];
    if (!c || c.role !== role || (id !== undefined && id !== c.id)) {
      return { ok: false, detail: 'certificate not valid for this role and id' };
    }
    return { ok: true, key: p256PublicKey(fromHex(c.publicKey)) };
  });
  return r.ok ? 'ok' : r.check;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '../vectors');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
const files = [
  ...walk(join(root, 'merkle')),
  ...walk(join(root, 'cose')),
  ...walk(join(root, 'structures')),
];
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
    } else if (kind.startsWith('structures/')) {
      got = await structureCheck(kind.split('/')[1] ?? '', v);
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
  t.equal(happy, 22, '7 inclusion + 7 consistency + 2 COSE + 6 structure valid cases');
  t.ok(cases.length > 150, `${cases.length} cases`);
});
