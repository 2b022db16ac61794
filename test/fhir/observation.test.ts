import { createHash } from 'node:crypto';
import t from 'tap';
import type { Observation, Reading } from '../../core/reading.js';
import { FhirDecimal } from '../../fhir/decimal.js';
import { FhirCode, FhirError } from '../../fhir/errors.js';
import { ndjsonLine } from '../../fhir/ndjson.js';
import { readingToObservation } from '../../fhir/observation.js';
import { observationJsonSchema } from '../../fhir/schema.js';

const T0 = Date.UTC(2025, 0, 31, 12, 0, 0, 250);
const trace = {
  receivedAt: T0 + 40,
  gatewayId: 'gw-1',
  blockSeq: 3,
  record: 2,
  notaryId: 'notary-1',
  height: 17,
};

const num = (code: number, mantissa: number, exponent: number, unit: string): Observation => ({
  kind: 'numeric',
  code,
  value: { mantissa, exponent },
  unit,
});

function reading(deviceId: string, observations: Observation[], over: Partial<Reading> = {}) {
  return { deviceId, seq: 7, deviceTime: T0, patient: 'MRN-7', observations, ...over };
}

/** The NDJSON line as written, its raw text and its parsed, schema-checked resource. */
function line(r: Reading, opts = {}, tr = trace) {
  const text = ndjsonLine(readingToObservation(r, tr, opts));
  const parsed = observationJsonSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`schema: ${parsed.error.message}\n${text}`);
  return { text, obs: parsed.data };
}

const codings = (c: { coding: readonly { system: string; code: string }[] }) =>
  c.coding.map((x) => `${x.system === 'http://loinc.org' ? 'loinc' : 'mdc'}:${x.code}`);

t.test('thermometer: one value, exact decimal text, identity, references, times', async (t) => {
  const { text, obs } = line(reading('temp-1', [num(150364, 3725, -2, 'Cel')]));
  t.equal(text.split('\n').length, 2, 'one line, newline-terminated');
  t.match(
    text,
    /"valueQuantity":\{"value":37\.25,"unit":"°C","system":"http:\/\/unitsofmeasure\.org","code":"Cel"\}/,
  );
  t.same(obs.identifier, [{ system: 'urn:medchain:reading', value: 'temp-1/7' }]);
  t.equal(obs.id, createHash('sha256').update('temp-1/7').digest('hex'), 'id from the identity');
  t.equal(obs.status, 'final');
  t.equal(obs.category[0].coding[0].code, 'vital-signs');
  t.same(codings(obs.code), ['loinc:8310-5', 'mdc:150364']);
  t.same(obs.subject, {
    reference: 'Patient/MRN-7',
    type: 'Patient',
    identifier: { system: 'urn:medchain:patient', value: 'MRN-7' },
  });
  t.same(obs.device, {
    reference: 'Device/temp-1',
    type: 'Device',
    identifier: { system: 'urn:medchain:device', value: 'temp-1' },
  });
  t.equal(obs.effectiveDateTime, '2025-01-31T12:00:00.250Z', 'device time, UTC, ms');
  t.equal(obs.issued, '2025-01-31T12:00:00.290Z', 'gateway receive time');
  t.same(obs.extension, [
    {
      url: 'urn:medchain:fhir:trace',
      extension: [
        { url: 'receivedAt', valueInstant: '2025-01-31T12:00:00.290Z' },
        { url: 'gateway', valueString: 'gw-1' },
        { url: 'blockSeq', valueUnsignedInt: 3 },
        { url: 'record', valueUnsignedInt: 2 },
        { url: 'notary', valueString: 'notary-1' },
        { url: 'height', valueUnsignedInt: 17 },
      ],
    },
  ]);
  t.equal(obs.component, undefined);
  t.equal(obs.note, undefined, 'no note without a flag');
});

t.test('decimals are written from mantissa and exponent, never through a float', async (t) => {
  const cases: [number, number, string][] = [
    [9750, -2, '97.50'], // trailing zero kept: the device's resolution
    [1, -1, '0.1'],
    [-25, -2, '-0.25'],
    [12, 2, '1200'],
    [0, -2, '0.00'],
    [Number.MAX_SAFE_INTEGER, -3, '9007199254740.991'], // beyond a double's 15-17 digits
  ];
  for (const [m, e, text] of cases) {
    t.equal(FhirDecimal.of({ mantissa: m, exponent: e }).text, text);
    t.equal(ndjsonLine({ v: FhirDecimal.of({ mantissa: m, exponent: e }) }), `{"v":${text}}\n`);
  }
  t.equal(FhirDecimal.trimmed({ mantissa: 4000, exponent: -3 }).text, '4');
  t.equal(FhirDecimal.trimmed({ mantissa: 1500, exponent: -3 }).text, '1.5');
  t.equal(FhirDecimal.trimmed({ mantissa: 1, exponent: -3 }).text, '0.001');
  const { text } = line(reading('ox-1', [num(150456, 9750, -2, '%')]));
  t.match(text, /"value":97\.50,/, 'SpO2 97.50 stays 97.50 in the NDJSON');
  t.throws(() => ndjsonLine({ v: 0.5 }), TypeError, 'a float never reaches the output');
});

t.test('pulse oximeter: SpO2 with both LOINC codes, pulse rate as a component', async (t) => {
  const { text, obs } = line(
    reading('ox-1', [num(150456, 97, 0, '%'), num(149530, 72, 0, '/min')]),
  );
  t.same(codings(obs.code), ['loinc:59408-5', 'loinc:2708-6', 'mdc:150456']);
  t.same(obs.valueQuantity, {
    value: 97,
    unit: '%',
    system: 'http://unitsofmeasure.org',
    code: '%',
  });
  t.equal(obs.component?.length, 1);
  t.same(codings(obs.component![0]!.code), ['loinc:8867-4', 'mdc:149530']);
  t.match(
    text,
    /"component":\[\{"code":.*"valueQuantity":\{"value":72,"unit":"beats\/minute",.*"code":"\/min"\}\}\]/,
  );
});

t.test('NIBP: the blood pressure panel with systolic, diastolic and mean components', async (t) => {
  const { obs } = line(
    reading('nibp-1', [
      num(150021, 121, 0, 'mm[Hg]'),
      num(150022, 79, 0, 'mm[Hg]'),
      num(150023, 93, 0, 'mm[Hg]'),
    ]),
  );
  t.same(codings(obs.code), ['loinc:85354-9', 'mdc:150020']);
  t.equal(obs.valueQuantity, undefined, 'the panel has no value of its own');
  t.same(
    obs.component?.map((c) => [codings(c.code), c.valueQuantity?.value, c.valueQuantity?.code]),
    [
      [['loinc:8480-6', 'mdc:150021'], 121, 'mm[Hg]'],
      [['loinc:8462-4', 'mdc:150022'], 79, 'mm[Hg]'],
      [['loinc:8478-0', 'mdc:150023'], 93, 'mm[Hg]'],
    ],
  );
  t.equal(obs.category[0].coding[0].code, 'vital-signs');
  const sysOnly = line(
    reading('nibp-1', [num(150021, 121, 0, 'mm[Hg]'), num(150023, 93, 0, 'mm[Hg]')]),
  );
  t.same(codings(sysOnly.obs.code), ['loinc:8480-6', 'mdc:150021'], 'no diastolic: no panel');
});

t.test('ECG: lead II frame as SampledData, heart rate as a component', async (t) => {
  const wave: Observation = {
    kind: 'waveform',
    code: 131330,
    samples: Int16Array.from([0, 120, -340, 5]),
    periodUs: 4000,
    scale: { mantissa: 5, exponent: -3 },
    unit: 'mV',
  };
  const { text, obs } = line(reading('ecg-1', [wave, num(147842, 64, 0, '/min')]));
  t.same(codings(obs.code), ['mdc:131330'], 'no LOINC claimed for lead II');
  t.match(
    text,
    /"valueSampledData":\{"origin":\{"value":0,"unit":"mV","system":"http:\/\/unitsofmeasure\.org","code":"mV"\},"period":4,"factor":0\.005,"dimensions":1,"data":"0 120 -340 5"\}/,
  );
  t.same(codings(obs.component![0]!.code), ['loinc:8867-4', 'mdc:147842']);
  const i32 = line(reading('ecg-1', [{ ...wave, samples: Int32Array.from([70000, -1]) }]));
  t.equal(i32.obs.valueSampledData?.data, '70000 -1', '32-bit samples too');
  t.equal(i32.obs.component, undefined);
});

t.test('glucose: laboratory, unit-specific LOINC only where one exists', async (t) => {
  const mg = line(reading('glu-1', [num(160184, 105, 0, 'mg/dL')])).obs;
  t.equal(mg.category[0].coding[0].code, 'laboratory');
  t.same(codings(mg.code), ['loinc:41653-7', 'mdc:160184']);
  const mmol = line(reading('glu-1', [num(160184, 58, -1, 'mmol/L')]));
  t.same(codings(mmol.obs.code), ['mdc:160184'], 'mmol/L: MDC only');
  t.match(mmol.text, /"value":5\.8,"unit":"mmol\/L"/);
});

t.test('clock skew is flagged with an extension and a note, never corrected', async (t) => {
  const r = reading('temp-1', [num(150364, 370, -1, 'Cel')], { deviceTime: T0 + 600_040 });
  const { obs } = line(r);
  t.equal(obs.effectiveDateTime, new Date(T0 + 600_040).toISOString(), 'device time kept');
  t.same(obs.extension[1], {
    url: 'urn:medchain:fhir:clock-skew',
    valueQuantity: { value: 600000, unit: 'ms', system: 'http://unitsofmeasure.org', code: 'ms' },
  });
  t.match(obs.note?.[0]?.text, /600000 ms \(allowed 300000 ms\)/);
  t.equal(line(r, { maxClockSkewMs: 600_000 }).obs.extension.length, 1, 'within a raised limit');
});

t.test('references: a value that is not a FHIR id is referenced by identifier only', async (t) => {
  const { obs } = line(reading('bed_3:ox', [num(150456, 97, 0, '%')], { patient: 'MRN#12/a' }), {
    patientSystem: 'urn:oid:1.2.3.4',
  });
  t.same(obs.subject, {
    type: 'Patient',
    identifier: { system: 'urn:oid:1.2.3.4', value: 'MRN#12/a' },
  });
  t.same(obs.device, {
    type: 'Device',
    identifier: { system: 'urn:medchain:device', value: 'bed_3:ox' },
  });
  t.same(obs.identifier[0].value, 'bed_3:ox/7');
});

t.test('a height beyond FHIR unsignedInt is refused with a code', async (t) => {
  const r = reading('temp-1', [num(150364, 370, -1, 'Cel')]);
  t.throws(
    () => readingToObservation(r, { ...trace, height: 2 ** 31 }),
    new FhirError(FhirCode.Range, 'height 2147483648 does not fit a FHIR unsignedInt', {
      height: 2 ** 31,
    }),
  );
});
