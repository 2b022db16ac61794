import { createHash } from 'node:crypto';
import t from 'tap';

import type { Observation, Reading } from '../../core/reading.js';
import { FhirCode } from '../../fhir/errors.js';
import { ndjsonLine } from '../../fhir/ndjson.js';
import { type Mapped, numericObservations, type SealedReading } from '../../fhir/observation.js';
import { provenanceOf } from '../../fhir/provenance.js';
import { compareWithProven } from '../../fhir/rebuild.js';
import { StripBuilder } from '../../fhir/strip.js';
import { fhirErrors } from './validate.js';

const T0 = Date.UTC(2025, 0, 31, 12, 0, 0, 250);

const num = (code: number, mantissa: number, exponent: number, unit: string): Observation => ({
  kind: 'numeric',
  code,
  value: { mantissa, exponent },
  unit,
});

function sealed(
  deviceId: string,
  observations: Observation[],
  over: Partial<Reading> = {},
): SealedReading {
  const reading = { deviceId, seq: 7, deviceTime: T0, patient: 'MRN-7', observations, ...over };
  return { reading, receivedAt: reading.deviceTime + 40, notaryId: 'notary-1', height: 17 };
}

/** Each Observation as its NDJSON line and parsed back, checked against R4 and its profiles. */
function lines(
  t: { same(found: unknown, wanted: unknown, msg: string): boolean },
  ms: readonly Mapped[],
) {
  return ms.map((m) => {
    const text = ndjsonLine(m.observation);
    const obs = JSON.parse(text);
    t.same(fhirErrors(obs), [], `${obs.id} validates`);
    return { text, obs };
  });
}
const codings = (c: { coding: readonly { system: string; code: string }[] }) =>
  c.coding.map((x) => `${x.system === 'http://loinc.org' ? 'loinc' : 'mdc'}:${x.code}`);
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

t.test('thermometer: one value, exact decimal text, identity, references, times', async (t) => {
  const [l, ...more] = lines(
    t,
    numericObservations(sealed('temp-1', [num(150364, 3725, -2, 'Cel')])),
  );
  t.equal(more.length, 0);
  t.match(
    l?.text,
    /"valueQuantity":\{"value":37\.25,"unit":"°C","system":"http:\/\/unitsofmeasure\.org","code":"Cel"\}/,
  );
  const o = l?.obs;
  t.same(o.identifier, [
    { system: 'https://medchain.example/fhir/sid/reading', value: 'temp-1/7' },
  ]);
  t.equal(o.id, sha('temp-1/7#150364'), 'id from the identity and the code');
  t.same(o.meta, { profile: ['http://hl7.org/fhir/StructureDefinition/bodytemp'] });
  t.same(codings(o.code), ['loinc:8310-5', 'mdc:150364']);
  t.same(o.subject, { reference: 'Patient/p.MRN-7' });
  t.same(o.device, { reference: 'DeviceMetric/m.temp-1.150364' });
  t.equal(o.effectiveDateTime, '2025-01-31T12:00:00.250Z', 'the device time');
  t.equal(o.issued, '2025-01-31T12:00:00.290Z', 'the gateway receive time');
});

t.test('decimals are written from mantissa and exponent, never through a float', async (t) => {
  const [a] = lines(t, numericObservations(sealed('temp-1', [num(150364, 3750, -2, 'Cel')])));
  t.match(a?.text, /"value":37\.50,/, 'the trailing zero is the resolution');
  const [b] = lines(
    t,
    numericObservations(sealed('glu-1', [num(160184, 9007199254740991, -14, 'mmol/L')])),
  );
  t.match(b?.text, /"value":90\.07199254740991,/);
});

t.test('pulse oximeter: SpO2 and heart rate, each its own profiled Observation', async (t) => {
  const ls = lines(
    t,
    numericObservations(sealed('ox-1', [num(150456, 97, 0, '%'), num(149530, 72, 0, '/min')])),
  );
  t.same(
    ls.map((l) => [codings(l.obs.code), l.obs.meta.profile[0], l.obs.device.reference]),
    [
      [
        ['loinc:59408-5', 'loinc:2708-6', 'mdc:150456'],
        'http://hl7.org/fhir/StructureDefinition/oxygensat',
        'DeviceMetric/m.ox-1.150456',
      ],
      [
        ['loinc:8867-4', 'mdc:149530'],
        'http://hl7.org/fhir/StructureDefinition/heartrate',
        'DeviceMetric/m.ox-1.149530',
      ],
    ],
  );
  t.not(ls[0]?.obs.id, ls[1]?.obs.id, 'two resources of one reading have two ids');
});

t.test('NIBP: the panel with its parts as components; other quantities stand alone', async (t) => {
  const ls = lines(
    t,
    numericObservations(
      sealed('nibp-1', [
        num(150021, 120, 0, 'mm[Hg]'),
        num(150022, 80, 0, 'mm[Hg]'),
        num(150023, 93, 0, 'mm[Hg]'),
        num(149530, 64, 0, '/min'),
      ]),
    ),
  );
  t.same(
    ls.map((l) => codings(l.obs.code)),
    [
      ['loinc:85354-9', 'mdc:150020'],
      ['loinc:8867-4', 'mdc:149530'],
    ],
  );
  t.same(
    ls[0]?.obs.component.map((c: { code: never }) => codings(c.code)),
    [
      ['loinc:8480-6', 'mdc:150021'],
      ['loinc:8462-4', 'mdc:150022'],
      ['loinc:8478-0', 'mdc:150023'],
    ],
  );
  t.notOk('valueQuantity' in (ls[0]?.obs ?? {}), 'the panel has no value of its own');
  // Systolic alone is no panel: it is its own Observation.
  const lone = lines(t, numericObservations(sealed('nibp-1', [num(150021, 120, 0, 'mm[Hg]')])));
  t.same(
    lone.map((l) => codings(l.obs.code)),
    [['loinc:8480-6', 'mdc:150021']],
  );
});

t.test(
  'glucose: laboratory, unit-specific LOINC only where one exists, no vital-signs profile',
  async (t) => {
    const [mg] = lines(t, numericObservations(sealed('glu-1', [num(160184, 104, 0, 'mg/dL')])));
    t.equal(mg?.obs.category[0].coding[0].code, 'laboratory');
    t.same(codings(mg?.obs.code), ['loinc:41653-7', 'mdc:160184']);
    t.equal(mg?.obs.meta, undefined);
    const [mmol] = lines(t, numericObservations(sealed('glu-1', [num(160184, 58, -1, 'mmol/L')])));
    t.same(codings(mmol?.obs.code), ['mdc:160184']);
    t.equal(mmol?.obs.device.reference, 'DeviceMetric/m.glu-1.160184.u1', 'a metric per unit');
  },
);

t.test('clock skew is flagged with an extension and a note, never corrected', async (t) => {
  const s = sealed('temp-1', [num(150364, 3700, -2, 'Cel')]);
  const late = { ...s, receivedAt: T0 + 3_600_000 };
  const [l] = lines(t, numericObservations(late));
  t.same(l?.obs.extension, [
    {
      url: 'https://medchain.example/fhir/StructureDefinition/clock-skew',
      valueQuantity: {
        value: -3_600_000,
        unit: 'ms',
        system: 'http://unitsofmeasure.org',
        code: 'ms',
      },
    },
  ]);
  t.equal(l?.obs.effectiveDateTime, '2025-01-31T12:00:00.250Z');
  t.match(l?.obs.note[0].text, /not corrected/);
  const [ok] = lines(t, numericObservations(late, { maxClockSkewMs: 4_000_000 }));
  t.equal(ok?.obs.extension, undefined, 'within the allowed skew');
});

t.test('references: a clinic reference that is not a FHIR id gets a hashed id', async (t) => {
  const [l] = lines(
    t,
    numericObservations(
      sealed('temp-1', [num(150364, 3700, -2, 'Cel')], { patient: 'urn:oid:1.2/ä 7' }),
    ),
  );
  t.match(l?.obs.subject.reference, /^Patient\/p\.[0-9a-f]{61}$/);
});

const frame = (seq: number, samples: number[], over: Partial<Reading> = {}) =>
  sealed(
    'ecg-1',
    [
      {
        kind: 'waveform',
        code: 131330,
        samples: Int16Array.from(samples),
        periodUs: 4000,
        scale: { mantissa: 5, exponent: -3 },
        unit: 'mV',
      },
    ],
    { seq, deviceTime: T0 + (seq - 1) * 8, ...over },
  );

t.test(
  'ECG frames join into strips of the configured length; a gap starts a new strip',
  async (t) => {
    const b = new StripBuilder({ stripMs: 16 });
    // 2 samples × 4 ms = 8 ms a frame: two frames a strip.
    const done = [frame(1, [1, 2]), frame(2, [3, 4]), frame(3, [5, 6])].flatMap((f) => b.add(f));
    t.equal(done.length, 1, 'the first strip closes at 16 ms');
    const gaps = [
      frame(5, [7, 8]), // seq 4 missing
      frame(6, [9, 10], { deviceTime: T0 + 5 * 8 + 100 }), // time does not continue
      frame(7, [11, 12], { deviceTime: T0 + 5 * 8 + 108, patient: 'MRN-8' }), // another patient
    ].flatMap((f) => b.add(f));
    const all = [...done, ...gaps, ...b.finish()];
    const ls = lines(t, all);
    t.same(
      ls.map((l) => [
        l.obs.identifier.map((i: { value: string }) => i.value),
        l.obs.valueSampledData.data,
      ]),
      [
        [['ecg-1/1', 'ecg-1/2'], '1 2 3 4'],
        [['ecg-1/3'], '5 6'],
        [['ecg-1/5'], '7 8'],
        [['ecg-1/6'], '9 10'],
        [['ecg-1/7'], '11 12'],
      ],
    );
    t.same(codings(ls[0]?.obs.code), ['loinc:11524-6', 'mdc:131330']);
    t.equal(ls[0]?.obs.category[0].coding[0].code, 'procedure');
    t.match(
      ls[0]?.text,
      /"valueSampledData":\{"origin":\{"value":0,"unit":"mV",[^}]*\},"period":4,"factor":0\.005,"dimensions":1,"data":"1 2 3 4"\}/,
    );
    t.throws(() => new StripBuilder({ stripMs: 0 }), RangeError);
  },
);

t.test('rebuilding from proven readings finds any change to what a clinician reads', async (t) => {
  const s = sealed('ox-1', [num(150456, 97, 0, '%'), num(149530, 72, 0, '/min')]);
  const [spo2] = numericObservations(s).map((m) => JSON.parse(ndjsonLine(m.observation)));
  t.same(compareWithProven(spo2, [s]), { ok: true });
  t.match(
    compareWithProven({ ...spo2, valueQuantity: { ...spo2.valueQuantity, value: 98 } }, [s]),
    {
      ok: false,
      element: 'valueQuantity',
    },
  );
  t.match(compareWithProven({ ...spo2, effectiveDateTime: '2025-01-31T12:00:01.250Z' }, [s]), {
    ok: false,
    element: 'effectiveDateTime',
  });
  t.match(compareWithProven({ ...spo2, id: 'x' }, [s]), { ok: false, element: 'id' });
  const f = [frame(1, [1, 2]), frame(2, [3, 4])];
  const [strip] = f.flatMap((x) => new StripBuilder({ stripMs: 16 }).add(x)).concat([]);
  t.equal(strip, undefined, 'one frame alone is not a strip yet');
  const b = new StripBuilder({ stripMs: 16 });
  const [whole] = f.flatMap((x) => b.add(x)).map((m) => JSON.parse(ndjsonLine(m.observation)));
  t.same(compareWithProven(whole, f), { ok: true });
  t.match(
    compareWithProven(
      { ...whole, valueSampledData: { ...whole.valueSampledData, data: '1 2 3 5' } },
      f,
    ),
    {
      ok: false,
      element: 'valueSampledData',
    },
  );
  t.match(compareWithProven(whole, [f[0]!]), { ok: false }, 'a frame left out');
});

t.test('a height beyond FHIR unsignedInt is refused with a code', async (t) => {
  t.throws(
    () =>
      provenanceOf({
        notaryId: 'notary-1',
        height: 2 ** 31,
        registeredAt: T0,
        gatewayDevice: 'g.gw-1',
        notaryDevice: 'n.notary-1',
        receipt: undefined,
        targets: [],
        proven: [],
      }),
    { code: FhirCode.Range },
  );
});
