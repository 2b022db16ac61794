/**
 * The import rules of docs/ARCHITECTURE.md hold in the code: gateway and notary
 * (broker/) never import each other, core imports only the errors base, hsm/ knows
 * PKCS#11 only, no service imports the CLI or the bench.
 */
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ALLOWED, judge, specifiers, unruledRooms, violations } from './rooms.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

t.test('every import of every room follows the rules', async (t) => {
  const { files, found } = violations(root);
  t.ok(files > 200, `${files} source files read`);
  t.same(found, [], found.map((v) => `${v.file} → ${v.imports}: ${v.why}`).join('\n'));
});

t.test('every top-level source folder has a rule', async (t) => {
  t.same(unruledRooms(root), []);
});

t.test('the judge catches each forbidden direction', async (t) => {
  const cases: [string, string, RegExp | undefined][] = [
    ['gateway/uplink.ts', '../broker/chain-store.js', /'gateway' may not import 'broker'/],
    ['broker/registrar.ts', '../gateway/spool.js', /'broker' may not import 'gateway'/],
    ['core/block.ts', '../hsm/token.js', /'core' may not import 'hsm'/],
    ['hsm/token.ts', '../core/cbor.js', /'hsm' may not import 'core'/],
    ['gateway/gateway.ts', '../cli/demo.js', /'gateway' may not import 'cli'/],
    ['fhir/bulk.ts', '../ops/log.js', /'fhir' may not import 'ops'/],
    ['core/block.ts', '../../outside.js', /outside every room/],
    ['gateway/uplink.ts', './spool.js', undefined],
    ['gateway/uplink.ts', '../core/block.js', undefined],
    ['hsm/errors.ts', '../errors/medchain-error.js', undefined],
  ];
  for (const [file, spec, why] of cases) {
    const v = judge(root, file, spec);
    if (why) t.match(v?.why, why, `${file} → ${spec}`);
    else t.equal(v, undefined, `${file} → ${spec} is allowed`);
  }
  t.notOk(ALLOWED.core?.includes('gateway'));
});

t.test('specifiers reads static, re-exported, side-effect and dynamic imports', async (t) => {
  const src = [
    "import { a } from './a.js';",
    "import type { B } from '../b/b.js';",
    "export { c } from './c.js';",
    "import './d.js';",
    "const e = await import('../e/e.js');",
    "import { f } from 'node:fs';",
  ].join('\n');
  t.same(specifiers(src), ['./a.js', '../b/b.js', './c.js', './d.js', '../e/e.js']);
});
