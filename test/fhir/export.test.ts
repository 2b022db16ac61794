import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ChainStore } from '../../broker/chain-store.js';
import { readExport, writeExport } from '../../broker/export.js';
import { sealBlock, ZERO_HASH } from '../../core/block.js';
import type { ReaderPublicKey } from '../../core/body.js';
import { formatDecimal } from '../../core/decimal.js';
import { encodeReading, type Reading } from '../../core/reading.js';
import { type FhirObservationJson, observationJsonSchema } from '../../fhir/schema.js';
import { Token } from '../../hsm/token.js';
import { createSource, type DeviceKind } from '../../simulators/kinds.js';
import { Patient } from '../../simulators/patient.js';
import { startNotary, tempDir } from '../broker/helpers.js';
import { createTestPki, PARTICIPANT_TOKEN } from '../helpers/pki.js';
import { USER_PIN } from '../helpers/softhsm.js';

// A real notary registers real sealed blocks (gateway key on a SoftHSM token, bodies
// HPKE-encrypted for two readers), writes a real export, and the built CLI exports it.
const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
if (!existsSync(BIN)) throw new Error(`${BIN} missing: run 'npm run build' first (npm test does)`);

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
const ecg = readingsOf('ecg', 5);
const nibp = readingsOf('nibp', 2);
const temp = readingsOf('temp', 2);
const glu = readingsOf('glu', 1);
const gluMmol = readingsOf('glu', 1, { glucoseUnit: 'mmol/L' }).map((r) => ({
  ...r,
  deviceId: 'glu-2',
}));
const skewed: Reading = { ...temp[1]!, deviceId: 'temp-2', deviceTime: T0 + 3_600_000 };

// Blocks: 1 ox+temp, 2 ecg, 3 nibp+glucose+skewed, 4 for the ward only, 5 erased.
const blocks: { readings: Reading[]; readers: ReaderPublicKey[] }[] = [
  { readings: [...ox, ...temp], readers: [ward, lab] },
  { readings: ecg, readers: [ward, lab] },
  { readings: [...nibp, ...glu, ...gluMmol, skewed], readers: [ward, lab] },
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

interface Line {
  readonly text: string;
  readonly obs: FhirObservationJson;
}
function lines(ndjson: string): Line[] {
  if (!ndjson.endsWith('\n')) throw new Error('NDJSON must end with a newline');
  return ndjson
    .split('\n')
    .slice(0, -1)
    .map((text) => {
      const parsed = observationJsonSchema.safeParse(JSON.parse(text));
      if (!parsed.success) throw new Error(`${parsed.error.message}\n${text}`);
      return { text, obs: parsed.data };
    });
}
const byId = (ls: Line[]) => new Map(ls.map((l) => [l.obs.identifier[0].value, l]));
const SYSTEMS: Record<string, string> = {
  'http://loinc.org': 'LOINC',
  'urn:iso:std:iso:11073:10101': 'MDC',
};
const codes = (c: { coding: readonly { system: string; code: string }[] }) =>
  c.coding.map((x) => `${SYSTEMS[x.system] ?? x.system}|${x.code}`);
const re = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** What each device kind must look like: code, category, component codes, value shape. */
const SHAPES: Record<string, { code: string[]; category: string; components: string[][] }> = {
  ox: {
    code: ['LOINC|59408-5', 'LOINC|2708-6', 'MDC|150456'],
    category: 'vital-signs',
    components: [['LOINC|8867-4', 'MDC|149530']],
  },
  nibp: {
    code: ['LOINC|85354-9', 'MDC|150020'],
    category: 'vital-signs',
    components: [
      ['LOINC|8480-6', 'MDC|150021'],
      ['LOINC|8462-4', 'MDC|150022'],
      ['LOINC|8478-0', 'MDC|150023'],
    ],
  },
  temp: { code: ['LOINC|8310-5', 'MDC|150364'], category: 'vital-signs', components: [] },
  glu: { code: ['LOINC|41653-7', 'MDC|160184'], category: 'laboratory', components: [] },
  'glu-2': { code: ['MDC|160184'], category: 'laboratory', components: [] },
  ecg: { code: ['MDC|131330'], category: 'vital-signs', components: [] },
};
const shapeOf = (deviceId: string) =>
  SHAPES[deviceId === 'glu-2' ? 'glu-2' : (deviceId.split('-')[0] ?? '')];

let wardLines: Line[] = [];

t.test('the ward exports every readable reading, each line a valid Observation', async (t) => {
  const out = join(dir, 'ward.ndjson');
  const r = medchain([
    '--reader-key',
    wardPem,
    '--reader-id',
    'ward',
    '--out',
    out,
    '--root',
    pki.rootPath,
  ]);
  t.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  t.match(summary, {
    ok: true,
    notaryId: 'notary-1',
    blocks: 5,
    read: 4,
    erased: 1,
    unreadable: {},
    observations: where.size - 1,
    clockSkewed: 1,
  });
  wardLines = lines(readFileSync(out, 'utf8'));
  const all = byId(wardLines);
  t.equal(all.size, where.size - 1, 'one Observation per reading, identities unique');
  t.notOk(all.has('ox-gone/1'), 'the erased block is skipped');

  for (const [id, w] of where) {
    const l = all.get(id);
    if (id === 'ox-gone/1') continue;
    if (!l) {
      t.fail(`no Observation for ${id}`);
      continue;
    }
    const { obs, text } = l;
    const r = w.reading;
    const shape = shapeOf(r.deviceId);
    t.same(codes(obs.code), shape?.code, `${id} code`);
    t.equal(obs.category[0].coding[0].code, shape?.category, `${id} category`);
    const comps = (obs.component ?? []).map((c) => codes(c.code));
    if (r.deviceId.startsWith('ecg')) {
      // Heart rate rides with every fourth frame.
      t.same(comps, r.observations.length === 2 ? [['LOINC|8867-4', 'MDC|147842']] : []);
      t.equal(obs.valueSampledData?.period, 4, '250 Hz: one sample every 4 ms');
    } else t.same(comps, shape?.components, `${id} components`);
    t.equal(obs.effectiveDateTime, new Date(r.deviceTime).toISOString(), `${id} device time`);
    t.same(obs.subject, {
      reference: `Patient/${r.patient}`,
      type: 'Patient',
      identifier: { system: 'urn:medchain:patient', value: r.patient },
    });
    t.same(obs.device, {
      reference: `Device/${r.deviceId}`,
      type: 'Device',
      identifier: { system: 'urn:medchain:device', value: r.deviceId },
    });
    t.same(
      obs.extension[0],
      {
        url: 'urn:medchain:fhir:trace',
        extension: [
          { url: 'receivedAt', valueInstant: new Date(received(r)).toISOString() },
          { url: 'gateway', valueString: 'gw-1' },
          { url: 'blockSeq', valueUnsignedInt: w.block },
          { url: 'record', valueUnsignedInt: w.record },
          { url: 'notary', valueString: 'notary-1' },
          { url: 'height', valueUnsignedInt: w.block },
        ],
      },
      `${id} trace`,
    );
    // Every value appears in the line as the device's exact decimal, with its UCUM code.
    for (const o of r.observations) {
      const want =
        o.kind === 'numeric'
          ? `"value":${formatDecimal(o.value)},"unit":"[^"]+","system":"http://unitsofmeasure.org","code":"${o.unit}"`
          : `"factor":${formatDecimal(o.scale)},"dimensions":1,"data":"${Array.from(o.samples).join(' ')}"`;
      t.match(text, new RegExp(re(want).replace(re('[^"]+'), '[^"]+')), `${id} value`);
    }
  }
  const skew = all.get('temp-2/2')?.obs;
  t.same(skew?.extension[1], {
    url: 'urn:medchain:fhir:clock-skew',
    valueQuantity: {
      value: skewed.deviceTime - received(skewed),
      unit: 'ms',
      system: 'http://unitsofmeasure.org',
      code: 'ms',
    },
  });
  t.match(skew?.note?.[0]?.text, /not corrected/);
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
  const labLines = lines(r.stdout);
  t.same(
    labLines.map((l) => l.text),
    wardLines.filter((l) => l.obs.identifier[0].value !== 'ox-ward/1').map((l) => l.text),
    'the same lines, byte for byte, as the ward gets for the blocks both can read',
  );
});

t.test('without a key, or with a key the blocks are not sealed for, nothing is read', async (t) => {
  const none = medchain(['--reader-id', 'ward']);
  t.equal(none.status, 2);
  t.match(none.stderr, /^medchain: FHIR_NO_READER_KEY: /);
  t.equal(none.stdout, '');

  const out = join(dir, 'stranger.ndjson');
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

t.test('a tampered body fails its hash check before anything is decrypted', async (t) => {
  const bytes = new Uint8Array(readFileSync(exportPath));
  const e2 = [...readExport(bytes)].find((i) => i.kind === 'entry' && i.height === 2);
  if (e2?.kind !== 'entry') return t.fail('entry 2');
  const at = Buffer.from(bytes).indexOf(Buffer.from(e2.body)) + 100;
  const tampered = bytes.slice();
  tampered[at]! ^= 0x01;
  const path = join(dir, 'tampered.cbor');
  writeFileSync(path, tampered);
  const out = join(dir, 'tampered.ndjson');
  const r = medchain(['--reader-key', wardPem, '--reader-id', 'ward', '--out', out], path);
  t.equal(r.status, 2);
  t.match(
    r.stderr,
    /^medchain: FHIR_BODY_HASH: block at height 2: the body hashes to [0-9a-f]{64}, the signed header says [0-9a-f]{64} \(tampered\)/,
  );
  t.notOk(existsSync(out), 'the half-written output is removed');
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
