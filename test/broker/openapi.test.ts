/**
 * The OpenAPI 3.1 description (broker/openapi.ts) against a real notary: every answer of
 * a running, anchored notary is validated with ajv (JSON Schema 2020-12) against the
 * schema the description gives for its path and status, and every JSON answer the
 * description documents is exercised.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import t, { type Test } from 'tap';
import { NOTARY_OPENAPI } from '../../broker/openapi.js';
import { anchoredNotary } from './console-fixture.js';

const { notary, gw1, base } = await anchoredNotary(t);
const ajv = new Ajv2020({ strict: true, allErrors: true });
interface Operation {
  get: { responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }> };
}
const schemas = NOTARY_OPENAPI.components.schemas as Record<string, object>;

/** The JSON schema the description gives for (path template, status). */
function schemaFor(path: string, status: number): { template: string; schema: object } {
  const paths = NOTARY_OPENAPI.paths as unknown as Record<string, Operation>;
  const template = Object.keys(paths).find((p) =>
    new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+').replace(/\./g, '\\.')}$`).test(
      path.split('?')[0]!,
    ),
  );
  if (!template) throw new Error(`${path} is not described`);
  const res = paths[template]!.get.responses[String(status)];
  const s = res?.content?.['application/json']?.schema;
  if (!s) throw new Error(`${template} has no JSON schema for status ${status}`);
  const name = s.$ref?.replace('#/components/schemas/', '');
  return { template, schema: name ? schemas[name]! : s };
}

const exercised = new Set<string>();
async function check(t: Test, path: string, status: number): Promise<unknown> {
  const r = await fetch(base + path);
  t.equal(r.status, status, `${path} answers ${status}`);
  t.match(r.headers.get('content-type') ?? '', /^application\/json/, `${path} is JSON`);
  const body = (await r.json()) as unknown;
  const { template, schema } = schemaFor(path, status);
  const validate = ajv.compile(schema);
  t.ok(
    validate(body),
    `${path} matches the schema of ${template} ${status}: ${ajv.errorsText(validate.errors)}`,
  );
  exercised.add(`${template} ${status}`);
  return body;
}

t.test('the description is served as written', async (t) => {
  const r = await fetch(`${base}/openapi.json`);
  t.equal(r.status, 200);
  t.same(await r.json(), JSON.parse(JSON.stringify(NOTARY_OPENAPI)));
  t.equal(NOTARY_OPENAPI.openapi, '3.1.0');
});

t.test('every answer of a real notary matches its schema', async (t) => {
  const cp = (await check(t, '/checkpoint', 200)) as { size: number; rootHex: string };
  t.equal(cp.size, notary.store.size, 'plain size beside the signed checkpoint');
  t.equal(cp.rootHex, Buffer.from(notary.store.root()).toString('hex'), 'root in hex');
  const e = (await check(t, '/entries?from=1&to=12', 200)) as { entries: { submitter: string }[] };
  t.equal(e.entries.length, 12);
  t.same([...new Set(e.entries.map((x) => x.submitter))].sort(), ['gw-1', 'gw-2']);
  await check(t, '/entries?from=0', 400);
  await check(t, '/proof/inclusion?height=5', 200);
  const internal = Buffer.from((await notary.store.entry(3))!.entry.internal).toString('hex');
  await check(t, `/proof/inclusion?internal=${internal}&size=8`, 200);
  await check(t, `/proof/inclusion?internal=${'0'.repeat(64)}`, 404);
  await check(t, '/proof/inclusion?height=x', 400);
  await check(t, '/proof/consistency?from=3&to=12', 200);
  await check(t, '/proof/consistency?from=x', 400);
  const b = (await check(t, '/block/2', 200)) as { bodyBytes: number; kidHex: string };
  t.ok(b.bodyBytes > 0);
  await check(t, '/block/999', 404);
  await check(t, '/anchor?height=4', 200);
  await check(t, '/anchor?height=999', 404);
  await check(t, '/anchor', 400);
  await check(t, '/feed?from=1&to=3', 200);
  await check(t, '/feed?from=abc', 400);
  const kid = Buffer.from(gw1.signing.kid).toString('hex');
  const c = (await check(t, `/certificate/${kid}`, 200)) as { subject: string; kidHex: string };
  t.equal(c.kidHex, kid);
  t.match(c.subject, /CN=gw-1/);
  await check(t, `/certificate/${'a'.repeat(64)}`, 404);
  const sd = (await check(t, '/fhir/StructureDefinition/clock-skew', 200)) as { url: string };
  t.equal(sd.url, 'https://medchain.example/fhir/StructureDefinition/clock-skew');
  await check(t, '/fhir/StructureDefinition/no-such', 404);
  await check(t, '/openapi.json', 200);
});

t.test('every documented JSON answer was exercised', async (t) => {
  for (const [path, item] of Object.entries(NOTARY_OPENAPI.paths)) {
    for (const [status, res] of Object.entries(item.get.responses)) {
      if ('content' in res && 'application/json' in res.content) {
        t.ok(exercised.has(`${path} ${status}`), `${path} ${status}`);
      }
    }
  }
});
