import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { fromHex, toHex } from '../../core/bytes.js';
import { protectedHeaderBytes, sigStructure } from '../../core/cose.js';
import { decodeSign1 } from '../../core/cose-decode.js';
import { sha256, Tag } from '../../core/hash.js';
import { testSignerA } from '../helpers/test-keys.js';

// docs/FORMAT.md quotes bytes; these must stay the bytes the code produces.
const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const doc = readFileSync(join(root, 'docs/FORMAT.md'), 'utf8');
const vector = JSON.parse(
  readFileSync(join(root, 'test/vectors/cose/happy-path.json'), 'utf8'),
) as Record<string, string>;

t.test('the worked COSE example in FORMAT.md matches the code and the vector', async (t) => {
  const kid = new TextEncoder().encode('test-gw-1');
  const prot = toHex(protectedHeaderBytes(kid));
  t.ok(doc.includes(prot), `protected header ${prot} quoted`);
  const d = decodeSign1(fromHex(vector.cose!));
  if (!d.ok) throw new Error(d.detail);
  const tbs = sigStructure(d.msg.protectedBytes, d.msg.payload, fromHex(vector.externalAad!));
  t.ok(doc.includes(toHex(sha256(tbs))), 'SHA-256(Sig_structure) quoted');
  t.ok(doc.includes(toHex(testSignerA().publicKey)), 'test key A public point quoted');
  t.ok(doc.includes(`${toHex(d.msg.signature).slice(0, 8)}…${toHex(d.msg.signature).slice(-4)}`));
});

t.test('the tag table in FORMAT.md lists every tag with its value', async (t) => {
  for (const [name, value] of Object.entries(Tag)) {
    const hex = `0x${value.toString(16).padStart(2, '0')}`;
    t.match(doc, new RegExp(`\\| \`${hex}\` \\| ${name}\\s+\\|`), `${name} = ${hex}`);
  }
});
