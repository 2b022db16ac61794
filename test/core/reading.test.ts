import t from 'tap';
import { parseDecimal } from '../../core/decimal.js';
import { encodeDet } from '../../core/det-cbor.js';
import { encodeReading, type Reading } from '../../core/reading.js';
import { decodeReading } from '../../core/reading-decode.js';
import { ReadingError, ReadingReason } from '../../core/reading-errors.js';

const T0 = Date.UTC(2025, 0, 31, 12, 0, 0, 250);
const enc = new TextEncoder();
const json = (v: unknown) => enc.encode(JSON.stringify(v));

const oxJson = {
  deviceId: 'ox-1',
  seq: 7,
  time: '2025-01-31T12:00:00.250Z',
  patient: 'MRN-000123',
  obs: [
    { code: 'MDC_PULS_OXIM_SAT_O2', value: '97.5', unit: '%' },
    { code: 149530, value: 72, unit: '/min' },
  ],
};

const ecg: Reading = {
  deviceId: 'ecg-9',
  seq: 2 ** 40,
  deviceTime: T0,
  patient: 'MRN-000124',
  observations: [
    {
      kind: 'waveform',
      code: 131330,
      samples: Int16Array.from([0, 120, -340, 2000, -1]),
      periodUs: 2000,
      scale: { mantissa: 5, exponent: -3 },
      unit: 'mV',
    },
    { kind: 'numeric', code: 147842, value: { mantissa: 61, exponent: 0 }, unit: '/min' },
  ],
};

// Canonical CBOR arrays written by hand, so a test can break exactly one field.
const obsNum = (code: number, m: number, e: number, unit: string) => [0, code, m, e, unit];
const cborOf = (obs: unknown[], deviceId = 'ox-1') =>
  encodeDet([1, deviceId, 7, T0, 'MRN-000123', obs as never]);

t.test('JSON decodes to the model, with exact decimals and ISO time', async (t) => {
  const r = decodeReading(json(oxJson), { expectedDeviceId: 'ox-1', receivedAt: T0 + 1000 });
  if (!r.ok) throw r.error;
  t.equal(r.value.format, 'json');
  t.equal(r.value.reading.deviceTime, T0);
  t.same(r.value.reading.observations[0], {
    kind: 'numeric',
    code: 150456,
    value: { mantissa: 975, exponent: -1 },
    unit: '%',
  });
  t.equal(r.value.clockSkewMs, -1000);
  t.equal(r.value.clockSkewed, false);
});

t.test('canonical CBOR round-trips and is deterministic', async (t) => {
  const a = encodeReading(ecg);
  const b = encodeReading({ ...ecg, observations: [...ecg.observations] });
  t.same(Buffer.from(a), Buffer.from(b), 'same reading, same bytes');
  const r = decodeReading(a, { receivedAt: T0 });
  if (!r.ok) throw r.error;
  t.equal(r.value.format, 'cbor');
  t.same(Buffer.from(r.value.canonical), Buffer.from(a), 'canonical input is kept byte for byte');
  t.same(r.value.reading, ecg);
  // The JSON form of the same reading yields the same canonical bytes.
  const j = decodeReading(json({ ...oxJson }));
  const c = decodeReading(cborOf([obsNum(150456, 975, -1, '%'), obsNum(149530, 72, 0, '/min')]));
  if (!j.ok || !c.ok) throw new Error('both must decode');
  t.same(Buffer.from(j.value.canonical), Buffer.from(c.value.canonical));
  // seq 2^40 and a millisecond time are integers in CBOR, never floats (no 0xfb head).
  t.notOk(Buffer.from(a).includes(0xfb), 'no float64 head in the encoding');
});

t.test('int32 waveforms keep their width', async (t) => {
  const r32: Reading = {
    ...ecg,
    observations: [
      {
        kind: 'waveform',
        code: 131330,
        samples: Int32Array.from([1, -2, 3]),
        periodUs: 1000,
        scale: { mantissa: 1, exponent: -6 },
        unit: 'mV',
      },
    ],
  };
  const r = decodeReading(encodeReading(r32));
  if (!r.ok) throw r.error;
  t.ok(r.value.reading.observations[0]?.kind === 'waveform');
  t.same(r.value.reading, r32);
});

t.test('decimal strings', async (t) => {
  t.same(parseDecimal('97.5'), { mantissa: 975, exponent: -1 });
  t.same(parseDecimal('-0.25'), { mantissa: -25, exponent: -2 });
  t.same(parseDecimal('1e3'), { mantissa: 1, exponent: 3 });
  t.same(parseDecimal('1.50E-1'), { mantissa: 150, exponent: -3 });
  t.same(parseDecimal('-0'), { mantissa: 0, exponent: 0 });
  for (const bad of [
    '',
    '.5',
    '5.',
    '+1',
    '01',
    '1e',
    '0x10',
    'NaN',
    '1e999',
    '9007199254740993',
  ]) {
    t.equal(parseDecimal(bad), undefined, `rejects '${bad}'`);
  }
});

/** Each case: a payload and the reason it must be refused with. */
const cases: Array<[string, Uint8Array, ReadingReason, object?]> = [
  ['too large (json)', json({ ...oxJson, pad: 'x'.repeat(70_000) }), ReadingReason.PayloadTooLarge],
  ['too large (cbor)', new Uint8Array(65 * 1024), ReadingReason.PayloadTooLarge],
  [
    'truncated cbor',
    cborOf([obsNum(150456, 97, 0, '%')]).subarray(0, 10),
    ReadingReason.MalformedCbor,
  ],
  [
    'huge declared array',
    Uint8Array.from([0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    ReadingReason.MalformedCbor,
  ],
  [
    'huge declared bytes',
    Uint8Array.from([0x5a, 0xff, 0xff, 0xff, 0xff, 0x00]),
    ReadingReason.MalformedCbor,
  ],
  ['indefinite array', Uint8Array.from([0x9f, 0x01, 0xff]), ReadingReason.MalformedCbor],
  ['non-shortest int', Uint8Array.from([0x18, 0x05]), ReadingReason.MalformedCbor],
  [
    'trailing garbage',
    Uint8Array.from([...cborOf([obsNum(150456, 97, 0, '%')]), 0x00]),
    ReadingReason.MalformedCbor,
  ],
  ['float in cbor', Uint8Array.from([0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]), ReadingReason.Schema],
  ['map in cbor', Uint8Array.from([0xa1, 0x01, 0x02]), ReadingReason.Schema],
  ['broken json', enc.encode('{"deviceId": "ox-1",'), ReadingReason.MalformedJson],
  ['invalid utf-8 json', Uint8Array.from([0x7b, 0xff, 0x7d]), ReadingReason.MalformedJson],
  ['missing field (json)', json({ ...oxJson, patient: undefined }), ReadingReason.Schema],
  ['unknown field (json)', json({ ...oxJson, extra: 1 }), ReadingReason.Schema],
  [
    'float value (json)',
    json({ ...oxJson, obs: [{ code: 150456, value: 97.5, unit: '%' }] }),
    ReadingReason.Schema,
  ],
  [
    'bad decimal (json)',
    json({ ...oxJson, obs: [{ code: 150456, value: '97,5', unit: '%' }] }),
    ReadingReason.Schema,
  ],
  [
    'impossible date (json)',
    json({ ...oxJson, time: '2025-02-30T00:00:00Z' }),
    ReadingReason.Schema,
  ],
  ['topic char in id (json)', json({ ...oxJson, deviceId: 'ox/1' }), ReadingReason.Schema],
  [
    'wrong version (cbor)',
    encodeDet([2, 'ox-1', 7, T0, 'p', [obsNum(150456, 97, 0, '%')]]),
    ReadingReason.Schema,
  ],
  [
    'negative seq (cbor)',
    encodeDet([1, 'ox-1', -1, T0, 'p', [obsNum(150456, 97, 0, '%')]]),
    ReadingReason.Schema,
  ],
  [
    'odd sample bytes (cbor)',
    cborOf([[1, 131330, Uint8Array.of(1, 2, 3), 2000, 5, -3, 'mV']]),
    ReadingReason.Schema,
  ],
  [
    'numeric code as waveform',
    cborOf([[1, 150456, Uint8Array.of(1, 0), 2000, 5, -3, '%']]),
    ReadingReason.Schema,
  ],
  [
    'unknown code (json)',
    json({ ...oxJson, obs: [{ code: 'MDC_NOPE', value: '1', unit: '%' }] }),
    ReadingReason.UnknownCode,
  ],
  ['unknown code (cbor)', cborOf([obsNum(150457, 97, 0, '%')]), ReadingReason.UnknownCode],
  [
    'unit mismatch (json)',
    json({ ...oxJson, obs: [{ code: 'MDC_TEMP_BODY', value: '98.6', unit: '[degF]' }] }),
    ReadingReason.UnitMismatch,
  ],
  ['unit mismatch (cbor)', cborOf([obsNum(150364, 370, -1, 'K')]), ReadingReason.UnitMismatch],
  [
    'out of range (json)',
    json({ ...oxJson, obs: [{ code: 'MDC_PULS_OXIM_SAT_O2', value: '100.1', unit: '%' }] }),
    ReadingReason.OutOfRange,
  ],
  ['out of range (cbor)', cborOf([obsNum(160184, 600, -1, 'mmol/L')]), ReadingReason.OutOfRange],
  [
    'waveform out of range (cbor)',
    cborOf([[1, 131330, Uint8Array.of(0x10, 0x27), 2000, 5, -3, 'mV']]),
    ReadingReason.OutOfRange,
  ],
  [
    'too many observations (json)',
    json({ ...oxJson, obs: Array(17).fill(oxJson.obs[0]) }),
    ReadingReason.TooManyObservations,
  ],
  [
    'too many observations (cbor)',
    cborOf(Array(17).fill(obsNum(150456, 97, 0, '%'))),
    ReadingReason.TooManyObservations,
  ],
  [
    'too many samples (json)',
    json({
      ...oxJson,
      obs: [
        { code: 131330, samples: Array(8193).fill(0), periodUs: 2000, scale: '0.005', unit: 'mV' },
      ],
    }),
    ReadingReason.TooManySamples,
  ],
  [
    'too many samples (cbor)',
    cborOf([[1, 131330, new Uint8Array(2 * 8193), 2000, 5, -3, 'mV']]),
    ReadingReason.TooManySamples,
  ],
  [
    'device id mismatch (json)',
    json(oxJson),
    ReadingReason.DeviceIdMismatch,
    { expectedDeviceId: 'ox-2' },
  ],
  [
    'device id mismatch (cbor)',
    cborOf([obsNum(150456, 97, 0, '%')]),
    ReadingReason.DeviceIdMismatch,
    { expectedDeviceId: 'ox-2' },
  ],
];

t.test('every rejection carries its stable reason', async (t) => {
  for (const [name, bytes, reason, opts] of cases) {
    const r = decodeReading(bytes, opts ?? {});
    t.notOk(r.ok, `${name}: refused`);
    if (r.ok) continue;
    t.ok(r.error instanceof ReadingError, `${name}: typed`);
    t.equal(r.error.reason, reason, `${name}: ${r.error.message}`);
    t.equal(r.error.code, `READING_${reason.toUpperCase().replaceAll('-', '_')}`);
  }
  const covered = new Set(cases.map((c) => c[2]));
  t.same([...covered].sort(), Object.values(ReadingReason).sort(), 'every reason has a case');
});

t.test('limits are configurable', async (t) => {
  const r = decodeReading(json(oxJson), { limits: { maxObservations: 1 } });
  t.equal(r.ok ? undefined : r.error.reason, ReadingReason.TooManyObservations);
  const big = decodeReading(json(oxJson), { limits: { maxPayloadBytes: 10 } });
  t.equal(big.ok ? undefined : big.error.reason, ReadingReason.PayloadTooLarge);
});

t.test('clock skew is flagged, not corrected and not refused', async (t) => {
  const r = decodeReading(json(oxJson), { receivedAt: T0 - 10 * 60_000 });
  if (!r.ok) throw r.error;
  t.equal(r.value.clockSkewed, true);
  t.equal(r.value.clockSkewMs, 10 * 60_000);
  t.equal(r.value.reading.deviceTime, T0, 'device time kept as sent');
});

t.test('random garbage never throws', async (t) => {
  let seed = 1;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const good = encodeReading(ecg);
  for (let i = 0; i < 2000; i++) {
    const b = Uint8Array.from(good);
    for (let k = 0; k < 3; k++) b[rnd() % b.length] = rnd() & 0xff;
    const r = decodeReading(b.subarray(0, rnd() % (b.length + 1)));
    // The catch-all in decodeReading must never be what answered: that would mean an
    // untyped exception escaped a decoding step.
    if (
      !r.ok &&
      (!(r.error instanceof ReadingError) || /could not be interpreted/.test(r.error.message))
    ) {
      t.fail(`untyped failure on ${Buffer.from(b).toString('hex')}: ${String(r.error.cause)}`);
    }
  }
  t.pass('2000 mutated payloads decoded or refused with a ReadingError');
});
