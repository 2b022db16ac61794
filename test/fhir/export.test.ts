import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ChainStore } from '../../broker/chain-store.js';
import { encodeItem, readExport, writeExport } from '../../broker/export.js';
import { sealBlock, ZERO_HASH } from '../../core/block.js';
import type { ReaderPublicKey } from '../../core/body.js';
import { formatDecimal } from '../../core/decimal.js';
import { encodeReading, type Reading } from '../../core/reading.js';
import { STRUCTURE_DEFINITIONS } from '../../fhir/structure-definitions.js';
import { Token } from '../../hsm/token.js';
import { createSource, type DeviceKind } from '../../simulators/kinds.js';
import { Patient } from '../../simulators/patient.js';
import { startNotary, tempDir } from '../broker/helpers.js';
import { createTestPki, PARTICIPANT_TOKEN } from '../helpers/pki.js';
import { USER_PIN } from '../helpers/softhsm.js';
import { fhirErrors } from './validate.js';

// A real notary registers real sealed blocks (gateway key on a SoftHSM token, bodies
// HPKE-encrypted for two readers), writes a real export, and the built CLI exports it.
const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
if (!existsSync(BIN)) throw new Error(`${BIN} missing: run 'npm run build' first (npm test does)`);

// Many CLI runs, each verifying real proofs: more than the suite's default per-file bound on a loaded machine.
t.setTimeout(600_000);
const pki = await createTestPki(t);
const me = await pki.participant('notary', 'notary-1');
const gw = await pki.participant('gateway', 'gw-1');
const dir = tempDir(t, 'medchain-fhir-');

// Reader "ward" holds a software key in a PEM file; reader "lab" a derive key on a token.
const wardKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const wardPem = join(dir, 'ward.key');
writeFileSync(wardPem, wardKey.privateKey.export({ format: 'pem', type: 'pkcs8' }), {
  mode: 0o600,
});
const strangerPem = join(dir, 'stranger.key');
writeFileSync(
  strangerPem,
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    format: 'pem',
    type: 'pkcs8',
  }),
);
const tok = Token.open({ label: PARTICIPANT_TOKEN, pin: USER_PIN, sessions: 1 });
const labPoint = tok.generateKey('lab-reader', 'derive').publicKey.point;
tok.close();
const jwk = wardKey.publicKey.export({ format: 'jwk' });
const ward: ReaderPublicKey = {
  kid: 'ward',
  publicKey: Uint8Array.from([
    4,
    ...Buffer.from(jwk.x ?? '', 'base64url'),
    ...Buffer.from(jwk.y ?? '', 'base64url'),
  ]),
};
const lab: ReaderPublicKey = { kid: 'lab', publicKey: labPoint };

// Readings from the simulators' device models: every kind, one patient each.
const T0 = Date.UTC(2025, 2, 3, 10, 0, 0, 0);
function readingsOf(kind: DeviceKind, n: number, opts = {}): Reading[] {
  const patient = new Patient(`MRN-${kind}`, 11);
  const source = createSource(kind, patient, 5, T0, opts);
  return Array.from({ length: n }, (_, i) => ({
    deviceId: `${kind}-1`,
    seq: i + 1,
    deviceTime: T0 + source.slotOffsetMs(i),
    patient: patient.id,
    observations: source.observations(i, source.slotOffsetMs(i), i + 1),
  }));
}
const ox = readingsOf('ox', 3);
// 60 s of ECG: 240 frames of 250 ms, sealed in two blocks (the third strip spans both).
const ecg = readingsOf('ecg', 240);
const nibp = readingsOf('nibp', 2);
const temp = readingsOf('temp', 2);
const glu = readingsOf('glu', 1);
const gluMmol = readingsOf('glu', 1, { glucoseUnit: 'mmol/L' }).map((r) => ({
  ...r,
  deviceId: 'glu-2',
}));
const skewed: Reading = { ...temp[1]!, deviceId: 'temp-2', deviceTime: T0 + 3_600_000 };

// Blocks: 1 ox+temp, 2 ecg 0–25 s, 3 ecg 25–60 s+nibp+glucose+skewed, 4 for the ward only, 5 erased.
const blocks: { readings: Reading[]; readers: ReaderPublicKey[] }[] = [
  { readings: [...ox, ...temp], readers: [ward, lab] },
  { readings: ecg.slice(0, 100), readers: [ward, lab] },
  { readings: [...ecg.slice(100), ...nibp, ...glu, ...gluMmol, skewed], readers: [ward, lab] },
  { readings: [{ ...ox[0]!, deviceId: 'ox-ward', seq: 1 }], readers: [ward] },
  { readings: [{ ...ox[0]!, deviceId: 'ox-gone', seq: 1 }], readers: [ward, lab] },
];
/** Gateway receive time: 40 ms after the device time, except for the skewed clock's. */
const received = (r: Reading) => (r === skewed ? temp[1]!.deviceTime : r.deviceTime) + 40;
/** Where each reading lands: gateway block seq = chain height (one gateway), leaf index. */
const where = new Map<string, { block: number; record: number; reading: Reading }>();
const exportPath = join(dir, 'chain.cbor');
{
  const dbPath = join(dir, 'chain.db');
  const notary = await startNotary(t, pki, me, [gw], { dbPath });
  const signer = await pki.signer(gw);
  let prev = ZERO_HASH;
  for (const [i, b] of blocks.entries()) {
    const sealed = await sealBlock({
      gatewayId: 'gw-1',
      seq: i + 1,
      prev,
      readings: b.readings.map((r) => ({ reading: encodeReading(r), receivedAt: received(r) })),
      readers: b.readers,
      signer,
      sealedAt: T0 + 10_000 * (i + 1),
    });
    prev = sealed.hash;
    const ans = await notary.registrar.submit('gw-1', sealed.bytes);
    if (ans.kind !== 'registered') throw new Error(JSON.stringify(ans));
    for (const [j, r] of b.readings.entries()) {
      where.set(`${r.deviceId}/${r.seq}`, { block: i + 1, record: j, reading: r });
    }
  }
  await notary.checkpointer.checkpoint();
  await notary.store.eraseBody(5, 'erasure request #3', Date.now());
  await notary.stop();
  const store = await ChainStore.open(dbPath);
  await writeExport(store, exportPath);
  await store.close();
}

function medchain(args: string[], input = exportPath) {
  return spawnSync(process.execPath, [BIN, 'export', '--in', input, '--format', 'fhir', ...args], {
    encoding: 'utf8',
    env: { ...process.env, MEDCHAIN_HSM_PIN: USER_PIN },
  });
}
function verifyObservation(id: string, fhirDir: string, ...more: string[]) {
  return spawnSync(
    process.execPath,
    [BIN, 'verify-proof', '--observation', id, '--fhir', fhirDir, '--root', pki.rootPath, ...more],
    { encoding: 'utf8' },
  );
}

interface Concept {
  coding: { system: string; code: string }[];
}
interface Res {
  resourceType: string;
  id: string;
  [k: string]: unknown;
}
interface Obs extends Res {
  meta?: { profile: string[] };
  identifier: { system: string; value: string }[];
  category: Concept[];
  code: Concept;
  subject: { reference: string };
  device: { reference: string };
  effectiveDateTime: string;
  valueQuantity?: { value: number; code: string };
  valueSampledData?: { period: number; factor: number; data: string };
  component?: { code: Concept }[];
  extension?: { url: string; valueQuantity: { value: number } }[];
  note?: { text: string }[];
}
interface Prov extends Res {
  target: { reference: string }[];
  recorded: string;
  agent: { who: { reference: string } }[];
  entity: {
    what: { reference: string; identifier: { system: string; value: string } };
    extension?: { url: string; valueUnsignedInt: number }[];
  }[];
}

function ndjson(text: string): { text: string; r: Res }[] {
  if (text !== '' && !text.endsWith('\n')) throw new Error('NDJSON must end with a newline');
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => ({ text: line, r: JSON.parse(line) as Res }));
}
function bulk(out: string) {
  const byType = new Map<string, { text: string; r: Res }[]>();
  for (const f of readdirSync(out).filter((f) => f.endsWith('.ndjson'))) {
    byType.set(f.replace(/\.ndjson$/, ''), ndjson(readFileSync(join(out, f), 'utf8')));
  }
  const get = <T extends Res>(type: string) => (byType.get(type) ?? []).map((l) => l.r as T);
  return {
    byType,
    get,
    observations: get<Obs>('Observation'),
    provenances: get<Prov>('Provenance'),
  };
}
const SYSTEMS: Record<string, string> = {
  'http://loinc.org': 'LOINC',
  'urn:iso:std:iso:11073:10101': 'MDC',
};
const codes = (c: Concept) => c.coding.map((x) => `${SYSTEMS[x.system] ?? x.system}|${x.code}`);
const readingIds = (o: Obs) => o.identifier.map((i) => i.value);
const VS = 'http://hl7.org/fhir/StructureDefinition/';

/** Every Observation shape the export writes: its codes, category, profile and unit. */
const SHAPES: Record<string, { category: string; profile?: string; ucum?: string }> = {
  'LOINC|59408-5 LOINC|2708-6 MDC|150456': {
    category: 'vital-signs',
    profile: `${VS}oxygensat`,
    ucum: '%',
  },
  'LOINC|8867-4 MDC|149530': { category: 'vital-signs', profile: `${VS}heartrate`, ucum: '/min' },
  'LOINC|8867-4 MDC|147842': { category: 'vital-signs', profile: `${VS}heartrate`, ucum: '/min' },
  'LOINC|8310-5 MDC|150364': { category: 'vital-signs', profile: `${VS}bodytemp`, ucum: 'Cel' },
  'LOINC|85354-9 MDC|150020': { category: 'vital-signs', profile: `${VS}bp` },
  'LOINC|41653-7 MDC|160184': { category: 'laboratory', ucum: 'mg/dL' },
  'MDC|160184': { category: 'laboratory', ucum: 'mmol/L' },
  'LOINC|11524-6 MDC|131330': { category: 'procedure' },
};
/** The Observations (by code) each reading of a device kind becomes. */
const PER_READING: Record<string, string[]> = {
  ox: ['LOINC|59408-5 LOINC|2708-6 MDC|150456', 'LOINC|8867-4 MDC|149530'],
  temp: ['LOINC|8310-5 MDC|150364'],
  nibp: ['LOINC|85354-9 MDC|150020'],
  glu: ['LOINC|41653-7 MDC|160184'],
  'glu-2': ['MDC|160184'],
};

const wardDir = join(dir, 'ward.fhir');
let wardOut: ReturnType<typeof bulk>;

t.test(
  'the ward writes a Bulk Data directory: every resource valid, every reference resolved',
  async (t) => {
    const r = medchain([
      '--reader-key',
      wardPem,
      '--reader-id',
      'ward',
      '--out',
      wardDir,
      '--root',
      pki.rootPath,
    ]);
    t.equal(r.status, 0, r.stderr);
    const readable = where.size - 1;
    t.match(JSON.parse(r.stdout), {
      ok: true,
      notaryId: 'notary-1',
      blocks: 5,
      read: 4,
      erased: 1,
      unreadable: {},
      readings: readable,
      // ox 3×2, temp 2, ECG 6 strips + 60 heart rates, nibp 2, glucose 2, skewed 1, ox-ward 2
      observations: 81,
      clockSkewed: 1,
    });
    const types = ['Binary', 'Device', 'DeviceMetric', 'Observation', 'Patient', 'Provenance'];
    t.same(
      readdirSync(wardDir).sort(),
      ['manifest.json', ...types.map((x) => `${x}.ndjson`)].sort(),
    );
    wardOut = bulk(wardDir);

    const manifest = JSON.parse(readFileSync(join(wardDir, 'manifest.json'), 'utf8'));
    t.match(manifest, {
      transactionTime: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
      request: /^medchain export --format fhir --in .*chain\.cbor$/,
      requiresAccessToken: false,
      error: [],
    });
    t.same(
      manifest.output,
      ['Patient', 'Device', 'DeviceMetric', 'Observation', 'Provenance', 'Binary'].map((type) => ({
        type,
        url: `${type}.ndjson`,
        count: wardOut.byType.get(type)?.length,
      })),
      'one output per resource type, counts as written',
    );

    // Every resource against the R4 base definitions and the profiles it claims.
    const errors: string[] = [];
    let validated = 0;
    const known = new Set<string>();
    for (const [type, list] of wardOut.byType) {
      for (const { r } of list) {
        t.equal(r.resourceType, type, `${r.id} sits in ${type}.ndjson`);
        validated += 1;
        for (const e of fhirErrors(r)) errors.push(`${type}/${r.id}: ${e}`);
        known.add(`${type}/${r.id}`);
      }
    }
    t.same(errors, [], `${validated} resources, 0 validation errors`);
    t.equal(known.size, validated, 'ids are unique within each type');
    t.equal(wardOut.get('Patient').length, 5, 'one Patient per clinic reference');
    t.match(wardOut.get('Patient')[0], {
      identifier: [{ system: /\/sid\/patient$/, value: /^MRN-/ }],
    });
    t.equal(wardOut.get('Binary').length, readable + 4, 'a proof per reading, a receipt per block');

    // Referential integrity: every reference anywhere in the export names a resource in it.
    const dangling: string[] = [];
    let references = 0;
    const walk = (v: unknown, where: string) => {
      if (Array.isArray(v)) {
        for (const x of v) walk(x, where);
      } else if (typeof v === 'object' && v !== null) {
        for (const [k, x] of Object.entries(v)) {
          if (k === 'reference' && typeof x === 'string') {
            references += 1;
            if (!known.has(x)) dangling.push(`${where} → ${x}`);
          } else walk(x, where);
        }
      }
    };
    for (const [type, list] of wardOut.byType) for (const { r } of list) walk(r, `${type}/${r.id}`);
    t.same(dangling, [], `${references} references, all resolved inside the export`);
  },
);

t.test(
  'vital signs: each quantity its own Observation with its profile, LOINC and UCUM',
  async (t) => {
    const byReading = new Map<string, Obs[]>();
    for (const o of wardOut.observations) {
      const shape = SHAPES[codes(o.code).join(' ')];
      if (!shape) {
        t.fail(`unexpected code ${codes(o.code)}`);
        continue;
      }
      t.equal(o.category[0]?.coding[0]?.code, shape.category, `${o.id} category`);
      t.same(o.meta?.profile, shape.profile === undefined ? undefined : [shape.profile]);
      if (shape.ucum !== undefined) t.equal(o.valueQuantity?.code, shape.ucum);
      t.match(o.device.reference, /^DeviceMetric\//);
      for (const id of readingIds(o)) byReading.set(id, [...(byReading.get(id) ?? []), o]);
    }
    const line = new Map(wardOut.byType.get('Observation')?.map((l) => [l.r.id, l.text]));
    for (const [id, w] of where) {
      const r = w.reading;
      const got = byReading.get(id) ?? [];
      if (id === 'ox-gone/1') {
        t.same(got, [], 'the erased block is skipped');
        continue;
      }
      const kind = r.deviceId === 'glu-2' ? 'glu-2' : (r.deviceId.split('-')[0] ?? '');
      if (kind !== 'ecg')
        t.same(
          got.map((o) => codes(o.code).join(' ')),
          PER_READING[kind],
          `${id} Observations`,
        );
      for (const o of got) {
        t.equal(o.subject.reference, `Patient/p.${r.patient}`);
        if (kind !== 'ecg')
          t.equal(o.effectiveDateTime, new Date(r.deviceTime).toISOString(), `${id} device time`);
      }
      // Every numeric value appears in its Observation as the device's exact decimal with its UCUM code.
      for (const ob of r.observations) {
        if (ob.kind !== 'numeric') continue;
        const want = `"value":${formatDecimal(ob.value)},"unit":"`;
        t.ok(
          got.some(
            (o) =>
              line.get(o.id)?.includes(want) && line.get(o.id)?.includes(`"code":"${ob.unit}"`),
          ),
          `${id} ${ob.code} = ${formatDecimal(ob.value)} ${ob.unit}`,
        );
      }
    }
    const hr = wardOut.observations.filter((o) => codes(o.code).includes('LOINC|8867-4'));
    t.equal(
      hr.length,
      3 + 60 + 1,
      'a query on code=8867-4 finds every heart rate: oximeters and ECG',
    );
    const bp = wardOut.observations.find((o) => readingIds(o).includes('nibp-1/1'));
    t.same(
      bp?.component?.map((c) => codes(c.code)),
      [
        ['LOINC|8480-6', 'MDC|150021'],
        ['LOINC|8462-4', 'MDC|150022'],
        ['LOINC|8478-0', 'MDC|150023'],
      ],
    );
    const skew = wardOut.observations.find((o) => readingIds(o).includes('temp-2/2'));
    t.same(skew?.extension, [
      {
        url: 'https://medchain.example/fhir/StructureDefinition/clock-skew',
        valueQuantity: {
          value: skewed.deviceTime - received(skewed),
          unit: 'ms',
          system: 'http://unitsofmeasure.org',
          code: 'ms',
        },
      },
    ]);
    t.match(skew?.note?.[0]?.text, /not corrected/);
  },
);

t.test('60 s of ECG is 6 strips of 10 s, not 240 frames', async (t) => {
  const strips = wardOut.observations.filter((o) => codes(o.code).includes('MDC|131330'));
  t.equal(strips.length, 6);
  for (const [k, s] of strips.entries()) {
    const frames = ecg.slice(40 * k, 40 * (k + 1));
    t.same(
      readingIds(s),
      frames.map((f) => `${f.deviceId}/${f.seq}`),
      `strip ${k + 1}: 40 frames`,
    );
    t.equal(s.effectiveDateTime, new Date(frames[0]!.deviceTime).toISOString());
    const samples = frames.flatMap((f) =>
      f.observations[0]?.kind === 'waveform' ? Array.from(f.observations[0].samples) : [],
    );
    t.equal(samples.length, 2500, '10 s at 250 Hz');
    t.equal(s.valueSampledData?.data, samples.join(' '), `strip ${k + 1}: every sample, in order`);
    t.equal(s.valueSampledData?.period, 4);
  }
  const spanning = strips[2]!;
  t.same(
    wardOut.provenances
      .filter((p) => p.target.some((x) => x.reference === `Observation/${spanning.id}`))
      .map((p) => p.entity[0]?.extension?.[0]?.valueUnsignedInt),
    [2, 3],
    'the strip sealed across two blocks is a target of both blocks’ Provenances',
  );

  // A configurable length, and the one-stream form for pipes.
  const r = medchain(['--reader-key', wardPem, '--reader-id', 'ward', '--strip-seconds', '30']);
  t.equal(r.status, 0, r.stderr);
  const lines = ndjson(r.stdout).map((l) => l.r);
  t.equal(
    lines.filter(
      (x) => x.resourceType === 'Observation' && codes((x as Obs).code).includes('MDC|131330'),
    ).length,
    2,
  );
  t.same(
    [...new Set(lines.map((x) => x.resourceType))],
    ['Patient', 'Device', 'DeviceMetric', 'Observation', 'Provenance', 'Binary'],
  );
  t.match(JSON.parse(r.stderr), { ok: true, out: '-' });
  const bad = medchain(['--reader-key', wardPem, '--reader-id', 'ward', '--strip-seconds', '0']);
  t.equal(bad.status, 2);
  t.match(bad.stderr, /CLI_USAGE: --strip-seconds/);
});

t.test(
  'devices as the PoCD IG models them: Device per device under its gateway, DeviceMetric per quantity',
  async (t) => {
    const devices = new Map(wardOut.get('Device').map((d) => [d.id, d]));
    t.match(devices.get('g.gw-1'), {
      identifier: [{ value: 'gw-1' }],
      type: { coding: [{ code: '531981' }] },
    });
    t.match(devices.get('n.notary-1'), { identifier: [{ value: 'notary-1' }] });
    t.match(devices.get('d.ox-1'), {
      identifier: [{ system: /\/sid\/device$/, value: 'ox-1' }],
      type: { coding: [{ system: 'urn:iso:std:iso:11073:10101', code: '528388' }] },
      parent: { reference: 'Device/g.gw-1' },
    });
    t.match(devices.get('d.ecg-1'), { type: { coding: [{ code: '528390' }] } });
    const metrics = wardOut
      .get('DeviceMetric')
      .filter((m) => (m.source as { reference: string }).reference === 'Device/d.ox-1');
    t.same(metrics.map((m) => m.id).sort(), ['m.ox-1.149530', 'm.ox-1.150456']);
    t.match(
      metrics.find((m) => m.id === 'm.ox-1.150456'),
      { unit: { coding: [{ code: '%' }] }, category: 'measurement' },
    );
  },
);

t.test(
  'Provenance: one per block, and from an Observation to a reading proof verify-proof accepts',
  async (t) => {
    t.equal(wardOut.provenances.length, 4, 'the four blocks the wardOut read');
    const first = wardOut.provenances.find(
      (p) => p.entity[0]?.extension?.[0]?.valueUnsignedInt === 1,
    );
    const block1 = wardOut.observations.filter((o) =>
      readingIds(o).some((id) => where.get(id)?.block === 1),
    );
    t.same(
      first?.target.map((x) => x.reference).sort(),
      block1.map((o) => `Observation/${o.id}`).sort(),
    );
    t.same(
      first?.agent.map((a) => a.who.reference),
      ['Device/g.gw-1', 'Device/n.notary-1'],
    );
    t.same(
      first?.entity.slice(1).map((e) => e.what.identifier.value),
      [...ox, ...temp].map((r) => `${r.deviceId}/${r.seq}`),
    );
    t.match(first?.recorded, /^\d{4}-\d\d-\d\dT/);

    const hr = wardOut.observations.find(
      (o) => readingIds(o).includes('ox-1/2') && codes(o.code).includes('LOINC|8867-4'),
    )!;
    const ok = verifyObservation(hr.id, wardDir);
    t.equal(ok.status, 0, ok.stdout + ok.stderr);
    t.match(
      ok.stdout,
      /^OK observation [0-9a-f]{64}: says what the proven readings say: ox-1\/2 \(notary-1 height 1\)/,
    );
    const strip = wardOut.observations.filter((o) => codes(o.code).includes('MDC|131330'))[2]!;
    const js = verifyObservation(strip.id, wardDir, '--json');
    t.equal(js.status, 0, js.stdout + js.stderr);
    const v = JSON.parse(js.stdout);
    t.equal(v.ok, true);
    t.equal(v.readings.length, 40);
    t.same([...new Set(v.readings.map((x: { height: number }) => x.height))], [2, 3]);
    const bp = wardOut.observations.find((o) => readingIds(o).includes('nibp-1/2'))!;
    t.equal(verifyObservation(bp.id, wardDir).status, 0);

    // Tampering: each copy of the export changes one thing.
    const variant = (name: string, type: string, edit: (r: Res) => Res) => {
      const d = join(dir, name);
      cpSync(wardDir, d, { recursive: true });
      const path = join(d, `${type}.ndjson`);
      const out = ndjson(readFileSync(path, 'utf8')).map((l) => `${JSON.stringify(edit(l.r))}\n`);
      writeFileSync(path, out.join(''));
      return d;
    };
    const value = variant('tampered-value', 'Observation', (r) =>
      r.id === hr.id
        ? {
            ...r,
            valueQuantity: {
              ...(r as Obs).valueQuantity,
              value: ((r as Obs).valueQuantity?.value ?? 0) + 1,
            },
          }
        : r,
    );
    const changed = verifyObservation(hr.id, value);
    t.equal(changed.status, 1);
    t.match(changed.stdout, /^FAIL observation-value: valueQuantity: exported /);
    const sample = variant('tampered-strip', 'Observation', (r) =>
      r.id === strip.id
        ? {
            ...r,
            valueSampledData: {
              ...(r as Obs).valueSampledData,
              data: (r as Obs).valueSampledData?.data.replace(/^-?\d+/, '9999'),
            },
          }
        : r,
    );
    t.match(
      verifyObservation(strip.id, sample).stdout,
      /^FAIL observation-value: valueSampledData/,
    );
    const proofId = first?.entity
      .find((e) => e.what.identifier.value === 'ox-1/2')
      ?.what.reference.slice(7);
    const otherId = first?.entity
      .find((e) => e.what.identifier.value === 'ox-1/3')
      ?.what.reference.slice(7);
    const flipped = variant('tampered-proof', 'Binary', (r) => {
      if (r.id !== proofId) return r;
      const b = Buffer.from(r.data as string, 'base64');
      b[b.length - 40]! ^= 0x01;
      return { ...r, data: b.toString('base64') };
    });
    const broken = verifyObservation(hr.id, flipped);
    t.equal(broken.status, 1);
    t.match(broken.stdout, /^FAIL [a-z-]+: reading ox-1\/2: /);
    const swapped = variant('swapped-proof', 'Provenance', (r) =>
      JSON.parse(JSON.stringify(r).replace(`"Binary/${proofId}"`, `"Binary/${otherId}"`)),
    );
    t.match(
      verifyObservation(hr.id, swapped).stdout,
      /^FAIL reading-identity: the proof listed for ox-1\/2 proves ox-1\/3/,
    );
    const orphan = variant('no-provenance', 'Provenance', (r) => ({
      ...r,
      target: (r as Prov).target.filter((x) => x.reference !== `Observation/${hr.id}`),
    }));
    t.match(verifyObservation(hr.id, orphan).stdout, /^FAIL no-proof: /);

    const anonymous = variant('no-identifier', 'Observation', (r) =>
      r.id === hr.id ? { ...r, identifier: [] } : r,
    );
    t.match(verifyObservation(hr.id, anonymous).stdout, /^FAIL identifier: /);
    const garbled = join(dir, 'garbled');
    cpSync(wardDir, garbled, { recursive: true });
    writeFileSync(
      join(garbled, 'Observation.ndjson'),
      `{"resourceType":"Observation",\n${readFileSync(join(wardDir, 'Observation.ndjson'), 'utf8')}`,
    );
    const notJson = verifyObservation(hr.id, garbled);
    t.equal(notJson.status, 2);
    t.match(notJson.stderr, /^medchain: FHIR_BAD_BULK: .*Observation\.ndjson line 1 is not JSON/);

    const unknown = verifyObservation('0'.repeat(64), wardDir);
    t.equal(unknown.status, 2);
    t.match(unknown.stderr, /^medchain: FHIR_NO_OBSERVATION: /);
    const missing = verifyObservation(hr.id, join(dir, 'nope'));
    t.equal(missing.status, 2);
    t.match(missing.stderr, /^medchain: FHIR_BAD_BULK: cannot read /);
    const both = spawnSync(
      process.execPath,
      [
        BIN,
        'verify-proof',
        'x.proof',
        '--observation',
        hr.id,
        '--fhir',
        wardDir,
        '--root',
        pki.rootPath,
      ],
      { encoding: 'utf8' },
    );
    t.equal(both.status, 2);
    t.match(both.stderr, /CLI_USAGE: give a proof file, or --observation/);
  },
);

t.test("medchain's extensions each have a valid StructureDefinition", async (t) => {
  const urls = new Set<string>();
  for (const sd of STRUCTURE_DEFINITIONS.values()) {
    t.same(fhirErrors(sd), [], `${sd.id} is a valid R4 StructureDefinition`);
    urls.add(sd.url as string);
  }
  const used = new Set<string>();
  const walk = (v: unknown) => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
    } else if (typeof v === 'object' && v !== null) {
      const o = v as Record<string, unknown>;
      if (Array.isArray(o.extension))
        for (const e of o.extension) used.add((e as { url: string }).url);
      Object.values(o).forEach(walk);
    }
  };
  for (const list of wardOut.byType.values()) for (const { r } of list) walk(r);
  t.same([...used].sort(), [...urls].sort(), 'every extension the export uses is defined');
});

t.test('the lab reads with its key on a token; the ward-only block is counted', async (t) => {
  const r = medchain(['--token', PARTICIPANT_TOKEN, '--key', 'lab-reader', '--reader-id', 'lab']);
  t.equal(r.status, 0, r.stderr);
  t.match(JSON.parse(r.stderr), {
    ok: true,
    out: '-',
    blocks: 5,
    read: 3,
    erased: 1,
    unreadable: { BODY_NOT_A_READER: 1 },
  });
  const labLines = ndjson(r.stdout).filter((l) => l.r.resourceType === 'Observation');
  t.same(
    labLines.map((l) => l.text),
    (wardOut.byType.get('Observation') ?? [])
      .filter((l) => !readingIds(l.r as Obs).includes('ox-ward/1'))
      .map((l) => l.text),
    'the same Observations, byte for byte, as the ward gets for the blocks both can read',
  );
});

t.test('without a key, or with a key the blocks are not sealed for, nothing is read', async (t) => {
  const none = medchain(['--reader-id', 'ward']);
  t.equal(none.status, 2);
  t.match(none.stderr, /^medchain: FHIR_NO_READER_KEY: /);
  t.equal(none.stdout, '');

  const out = join(dir, 'stranger.fhir');
  const stranger = medchain(['--reader-key', strangerPem, '--reader-id', 'stranger', '--out', out]);
  t.equal(stranger.status, 2);
  t.match(
    stranger.stderr,
    /FHIR_NOTHING_READABLE: none of the 4 block bodies could be decrypted with reader 'stranger': 4 not addressed to this reader id \(BODY_NOT_A_READER\); 1 erased/,
  );
  t.notOk(existsSync(out), 'no output file is left behind');

  const impostor = medchain(['--reader-key', strangerPem, '--reader-id', 'ward']);
  t.equal(impostor.status, 2);
  t.match(
    impostor.stderr,
    /FHIR_NOTHING_READABLE: .*: 4 addressed to this reader id, but this key does not open them \(wrong key\?\) \(BODY_KEY_UNWRAP_FAILED\); 1 erased/,
  );
  t.equal(impostor.stdout, '');
});

t.test('keys that are not reader keys are refused with a code', async (t) => {
  const signKey = medchain(['--token', PARTICIPANT_TOKEN, '--key', 'gw-1', '--reader-id', 'lab']);
  t.equal(signKey.status, 2);
  t.match(signKey.stderr, /FHIR_READER_KEY: key 'gw-1' on token '.*' is not a key-agreement/);
  const notPem = medchain(['--reader-key', exportPath, '--reader-id', 'ward']);
  t.match(notPem.stderr, /FHIR_READER_KEY: .* is not a PEM private key/);
  const rsa = join(dir, 'rsa.key');
  writeFileSync(
    rsa,
    generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    }),
  );
  const rsaKey = medchain(['--reader-key', rsa, '--reader-id', 'ward']);
  t.match(rsaKey.stderr, /FHIR_READER_KEY: .* is not a P-256 private key/);
  const missing = medchain(['--reader-key', join(dir, 'nope.key'), '--reader-id', 'ward']);
  t.match(missing.stderr, /FHIR_READER_KEY: cannot read the reader key/);
  const noId = medchain(['--reader-key', wardPem]);
  t.match(noId.stderr, /CLI_USAGE: --reader-id/);
  const both = medchain(['--reader-key', wardPem, '--token', 'x', '--reader-id', 'ward']);
  t.match(both.stderr, /CLI_USAGE: give either --reader-key or --token/);
  const noLabel = medchain(['--token', PARTICIPANT_TOKEN, '--reader-id', 'lab']);
  t.match(noLabel.stderr, /CLI_USAGE: --key/);
  const skew = medchain([
    '--reader-key',
    wardPem,
    '--reader-id',
    'ward',
    '--max-clock-skew-ms',
    '-1',
  ]);
  t.match(skew.stderr, /CLI_USAGE: --max-clock-skew-ms/);
  const exists = medchain(['--reader-key', wardPem, '--reader-id', 'ward', '--out', wardPem]);
  t.match(exists.stderr, /CLI_OUTPUT: .*ward\.key/);
  t.equal(readFileSync(wardPem, 'utf8').includes('PRIVATE KEY'), true, 'never overwritten');
  const csv = medchain(['--reader-key', wardPem, '--reader-id', 'ward', '--format', 'csv']);
  t.not(csv.status, 0);
  t.match(csv.stderr, /argument 'csv' is invalid. Allowed choices are fhir/);
  const notExport = medchain(['--reader-key', wardPem, '--reader-id', 'ward'], wardPem);
  t.equal(notExport.status, 2);
  t.match(notExport.stderr, /^medchain: FHIR_BAD_EXPORT: /);
});

t.test(
  'an export without the certificates its proofs need is refused, nothing written',
  async (t) => {
    const items = [...readExport(new Uint8Array(readFileSync(exportPath)))];
    const path = join(dir, 'no-certificates.cbor');
    writeFileSync(
      path,
      Buffer.concat(items.filter((i) => i.kind !== 'certificate').map(encodeItem)),
    );
    const out = join(dir, 'no-certificates.fhir');
    const r = medchain(['--reader-key', wardPem, '--reader-id', 'ward', '--out', out], path);
    t.equal(r.status, 2);
    t.match(
      r.stderr,
      /^medchain: FHIR_BAD_EXPORT: block at height 1: the export holds no certificate for the signed header's kid/,
    );
    t.notOk(existsSync(out));
  },
);

t.test('a tampered body fails its hash check before anything is decrypted', async (t) => {
  const bytes = new Uint8Array(readFileSync(exportPath));
  const e2 = [...readExport(bytes)].find((i) => i.kind === 'entry' && i.height === 2);
  if (e2?.kind !== 'entry') return t.fail('entry 2');
  const at = Buffer.from(bytes).indexOf(Buffer.from(e2.body)) + 100;
  const tampered = bytes.slice();
  tampered[at]! ^= 0x01;
  const path = join(dir, 'tampered.cbor');
  writeFileSync(path, tampered);
  const out = join(dir, 'tampered.fhir');
  const r = medchain(['--reader-key', wardPem, '--reader-id', 'ward', '--out', out], path);
  t.equal(r.status, 2);
  t.match(
    r.stderr,
    /^medchain: FHIR_BODY_HASH: block at height 2: the body hashes to [0-9a-f]{64}, the signed header says [0-9a-f]{64} \(tampered\)/,
  );
  t.notOk(existsSync(out), 'no output directory is left behind');
  const rooted = medchain(
    ['--reader-key', wardPem, '--reader-id', 'ward', '--root', pki.rootPath],
    path,
  );
  t.equal(rooted.status, 2);
  t.match(
    rooted.stderr,
    /^medchain: FHIR_EXPORT_INVALID: the export does not verify: block at height 2: body-hash/,
  );
  t.equal(rooted.stdout, '', 'with --root, nothing is written before the export verifies');
});
