import t, { type Test } from 'tap';
import { codeByMdc, unitSpec } from '../../core/codes.js';
import { compareDecimal } from '../../core/decimal.js';
import { encodeReading, type Reading } from '../../core/reading.js';
import { decodeReading } from '../../core/reading-decode.js';
import { SimDevice } from '../../simulators/device.js';
import { DeviceEmitter } from '../../simulators/emitter.js';
import { encodePayload } from '../../simulators/encode.js';
import { EVENT_KINDS, type EventKind } from '../../simulators/events.js';
import { CODES, DEVICE_KINDS, type DeviceKind } from '../../simulators/kinds.js';
import { Patient } from '../../simulators/patient.js';

const T0 = Date.UTC(2026, 0, 15, 8, 0, 0);
const HOUR = 3_600_000;

function device(kind: DeviceKind, seed = 7, patient = 'pat-0001') {
  let now = T0;
  const clock = () => now;
  const dev = new SimDevice({ kind, id: `${kind}-0001`, patient }, { seed, clock });
  return { dev, advance: (ms: number) => (now += ms), now: () => now };
}

/** Every value (or sample × scale) of a reading inside core's plausible range. */
function inRange(t: Test, r: Reading): boolean {
  for (const o of r.observations) {
    const entry = codeByMdc(o.code);
    const unit = entry && unitSpec(entry, o.unit);
    if (unit === undefined) return t.fail(`code ${o.code} ${o.unit} not in the table`);
    if (o.kind === 'numeric') {
      if (compareDecimal(o.value, unit.min) < 0 || compareDecimal(o.value, unit.max) > 0) {
        return t.fail(`${entry!.refId} ${o.value.mantissa}e${o.value.exponent} out of range`);
      }
    }
  }
  return true;
}

const DURATION: Record<DeviceKind, number> = {
  ox: 24 * HOUR,
  ecg: 2 * HOUR,
  nibp: 7 * 24 * HOUR,
  temp: 7 * 24 * HOUR,
  glu: 7 * 24 * HOUR,
};

for (const kind of DEVICE_KINDS) {
  t.test(`${kind}: a long simulated run decodes, stays plausible, seqs consecutive`, async (t) => {
    const { dev, advance, now } = device(kind);
    let seq = 0;
    let n = 0;
    let bad = 0;
    const end = T0 + DURATION[kind];
    while (now() < end) {
      advance(kind === 'ecg' ? 1000 : 60_000);
      for (const r of dev.due()) {
        n++;
        if (r.seq !== seq + 1) bad++;
        seq = r.seq;
        if (r.deviceTime > now()) bad++;
        // Decoding the wire bytes of every 7th reading (CBOR and JSON alternately) keeps the
        // week-long runs fast; range checks run on all.
        if (n % 7 === 0) {
          const bytes = encodePayload(r, n % 2 === 0 ? 'cbor' : 'json');
          const d = decodeReading(bytes, { expectedDeviceId: dev.id, receivedAt: now() });
          if (!d.ok) {
            t.fail(`seq ${r.seq}: ${d.error.reason} ${d.error.message}`);
            return;
          }
          if (Buffer.compare(d.value.canonical, encodeReading(r)) !== 0) bad++;
        }
        if (!inRange(t, r)) return;
      }
    }
    t.equal(bad, 0, 'seq consecutive from 1, device time not in the future, canonical bytes');
    t.equal(seq, n);
    t.ok(n > 1000, `${n} readings`);
    t.equal(dev.skipped, 0);
  });
}

t.test('the same seed reproduces the same bytes; another seed does not', async (t) => {
  for (const kind of DEVICE_KINDS) {
    const a = device(kind, 42).dev;
    const b = device(kind, 42).dev;
    const c = device(kind, 43).dev;
    const bytes = (d: SimDevice) =>
      Buffer.concat(Array.from({ length: 50 }, () => encodeReading(d.next())));
    const [x, y, z] = [bytes(a), bytes(b), bytes(c)];
    t.ok(x.equals(y), `${kind}: seed 42 twice`);
    t.notOk(x.equals(z), `${kind}: seed 43 differs`);
  }
});

t.test('fault draws are reproducible too', async (t) => {
  const run = () => {
    const em = new DeviceEmitter(device('ox', 5).dev, { faults: { garbage: 0.2, replay: 0.1 } });
    return Buffer.concat(Array.from({ length: 200 }, () => em.step().map((m) => m.payload)).flat());
  };
  t.ok(run().equals(run()));
});

t.test('signals are smooth: consecutive 1 Hz oximeter readings move little', async (t) => {
  const { dev } = device('ox', 3);
  let prev: Reading | undefined;
  let maxStep = 0;
  for (let i = 0; i < 6 * 3600; i++) {
    const r = dev.next();
    if (prev) {
      const a = r.observations[1]!;
      const b = prev.observations[1]!;
      if (a.kind === 'numeric' && b.kind === 'numeric') {
        maxStep = Math.max(maxStep, Math.abs(a.value.mantissa - b.value.mantissa));
      }
    }
    prev = r;
  }
  t.ok(maxStep <= 8, `pulse rate never jumps more than 8/min in 1 s (max ${maxStep})`);
});

t.test('one patient, two devices: the oximeter and the ECG agree on the rate', async (t) => {
  const p = 'pat-0009';
  const ox = device('ox', 11, p).dev;
  const ecg = device('ecg', 11, p).dev;
  let worst = 0;
  for (let i = 0; i < 600; i++) {
    const o = ox.next();
    const e = [ecg.next(), ecg.next(), ecg.next(), ecg.next()];
    const pr = o.observations[1]!;
    const hr = e[0]!.observations.find((x) => x.code === CODES.ecgHeartRate);
    if (pr.kind === 'numeric' && hr?.kind === 'numeric') {
      worst = Math.max(worst, Math.abs(pr.value.mantissa - hr.value.mantissa));
    }
  }
  t.ok(worst <= 3, `pulse rate within 3/min of the ECG rate (worst ${worst})`);
});

t.test('the ECG is a PQRST trace: one R peak per beat, at the heart rate', async (t) => {
  const { dev } = device('ecg', 21);
  const samples: number[] = [];
  const rates: number[] = [];
  for (let i = 0; i < 4 * 60; i++) {
    const r = dev.next();
    const w = r.observations[0]!;
    if (w.kind !== 'waveform' || w.periodUs !== 4000) return t.fail('a 250 Hz waveform first');
    samples.push(...w.samples);
    const hr = r.observations[1];
    if (hr?.kind === 'numeric') rates.push(hr.value.mantissa);
  }
  t.equal(samples.length, 60 * 250, '250 Hz: 15,000 samples a minute (63 + 62 per frame)');
  const max = Math.max(...samples);
  let peaks = 0;
  for (let i = 1; i < samples.length - 1; i++) {
    const s = samples[i]!;
    if (s > max * 0.6 && s >= samples[i - 1]! && s > samples[i + 1]!) peaks++;
  }
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  t.ok(Math.abs(peaks - mean) <= 6, `${peaks} R peaks in a minute at a mean rate of ${mean}`);
  t.ok(max * 0.005 > 0.6 && max * 0.005 < 2, `R wave ${max * 0.005} mV`);
});

t.test('every event kind happens, and moves its vital the right way', async (t) => {
  const seen = new Set<EventKind>();
  for (let seed = 1; seen.size < EVENT_KINDS.length && seed < 50; seed++) {
    const p = new Patient('pat-1', seed, { slotMs: 20 * 60_000, probability: 1 });
    for (let m = 0; m < 24 * 60; m += 1) {
      const v = p.vitals(T0 + m * 60_000);
      const [kind, level] = Object.entries(v.events)[0] ?? [];
      if (kind === undefined || level === undefined || level < 0.55) continue;
      const ok: Record<string, boolean> = {
        desaturation: v.spo2 < 92,
        tachycardia: v.heartRate > 100,
        hypertension: v.systolic > 140,
        fever: v.temperature > 37.9,
        hypoglycaemia: v.glucose < 70,
      };
      if (!ok[kind]) {
        t.fail(`${kind} at level ${level}: ${JSON.stringify(v)}`);
        return;
      }
      seen.add(kind as EventKind);
    }
  }
  t.same([...seen].sort(), [...EVENT_KINDS].sort());
});

t.test('rateMultiplier shortens the schedule; bad specs are refused', async (t) => {
  let now = T0;
  const dev = new SimDevice(
    { kind: 'ox', id: 'ox-fast', patient: 'p' },
    { rateMultiplier: 10, clock: () => now },
  );
  now += 10_000;
  t.equal([...dev.due()].length, 100);
  t.throws(() => new SimDevice({ kind: 'ox', id: 'x', patient: 'p' }, { rateMultiplier: 0 }));
  t.throws(() => new SimDevice({ kind: 'ox', id: 'a/b', patient: 'p' }), /spec.id/);
  t.throws(() => new SimDevice({ kind: 'ox', id: 'a+', patient: 'p' }), /spec.id/);
  t.throws(() => new SimDevice({ kind: 'ox', id: 'a', patient: 'Jane Doe' }), /spec.patient/);
  t.throws(() => new SimDevice({ kind: 'mri' as 'ox', id: 'a', patient: 'p' }), /spec.kind/);
});

t.test('a stalled caller skips slots instead of flooding', async (t) => {
  let now = T0;
  const dev = new SimDevice(
    { kind: 'ox', id: 'ox-stall', patient: 'p' },
    { clock: () => now, maxCatchUp: 10 },
  );
  now += 3600_000;
  const got = [...dev.due()];
  t.equal(got.length, 10);
  t.ok(dev.skipped > 3500);
  t.equal(dev.nextSeq, 11, 'skipped slots take no seq');
  now += 1000;
  t.equal([...dev.due()].length, 1);
});
