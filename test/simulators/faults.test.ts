import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { decodeReading } from '../../core/reading-decode.js';
import { ReadingReason } from '../../core/reading-errors.js';
import { SimDevice } from '../../simulators/device.js';
import { DeviceEmitter } from '../../simulators/emitter.js';
import type { PayloadFormat } from '../../simulators/encode.js';
import { FAULTS, type FaultName, type OutMessage } from '../../simulators/faults.js';
import { DEVICE_KINDS, type DeviceKind } from '../../simulators/kinds.js';

const T0 = Date.UTC(2026, 0, 15, 8, 0, 0);
const TOPIC_RE = /^med\/v1\/dev\/([^/]+)\/obs$/;

function emitter(kind: DeviceKind, format: PayloadFormat, faults = {}) {
  let now = T0;
  const dev = new SimDevice({ kind, id: `${kind}-1`, patient: 'pat-1' }, { clock: () => now });
  const em = new DeviceEmitter(dev, { format, faults, peers: [`${kind}-1`, `${kind}-2`] });
  return { em, dev, tick: (ms: number) => (now += ms), now: () => now };
}

/** What the gateway would run: the topic's id as expectedDeviceId, its clock as receivedAt. */
function judge(m: OutMessage, receivedAt: number) {
  const id = TOPIC_RE.exec(m.topic)?.[1];
  if (id === undefined) throw new Error(`not a device topic: ${m.topic}`);
  return decodeReading(m.payload, { expectedDeviceId: id, receivedAt });
}

function check(t: Test, m: OutMessage, receivedAt: number, label: string): void {
  const d = judge(m, receivedAt);
  if (m.expect.reason === undefined) {
    t.ok(d.ok, `${label}: decodes (${d.ok ? '' : d.error.message})`);
    if (d.ok) t.equal(d.value.clockSkewed, m.expect.clockSkewed, `${label}: skew flag`);
  } else {
    t.equal(d.ok ? 'accepted' : d.error.reason, m.expect.reason, `${label}: reason`);
  }
}

const REASON: Record<FaultName, Record<PayloadFormat, string>> = {
  garbage: { cbor: ReadingReason.MalformedCbor, json: ReadingReason.MalformedJson },
  truncated: { cbor: ReadingReason.MalformedCbor, json: ReadingReason.MalformedJson },
  'out-of-range': { cbor: 'out-of-range', json: 'out-of-range' },
  'unknown-code': { cbor: 'unknown-code', json: 'unknown-code' },
  'wrong-unit': { cbor: 'unit-mismatch', json: 'unit-mismatch' },
  oversize: { cbor: 'payload-too-large', json: 'payload-too-large' },
  // Decode fine: the skew is a flag, and replays and foreign topics are the gateway's to see
  // (the foreign topic shows here as device-id-mismatch because the topic's id is not the
  // payload's; the gateway's ACL refuses it before decoding).
  skew: { cbor: 'accepted', json: 'accepted' },
  replay: { cbor: 'accepted', json: 'accepted' },
  duplicate: { cbor: 'accepted', json: 'accepted' },
  'foreign-topic': { cbor: 'device-id-mismatch', json: 'device-id-mismatch' },
  burst: { cbor: 'accepted', json: 'accepted' },
};

for (const format of ['cbor', 'json'] as const) {
  t.test(`${format}: each fault, on demand, on each device kind, gets its reason`, async (t) => {
    for (const kind of DEVICE_KINDS) {
      for (const fault of FAULTS) {
        const { em, tick, now } = emitter(kind, format);
        for (let i = 0; i < 5; i++) em.step();
        tick(60_000);
        const msgs = em.inject(fault);
        t.ok(msgs.length >= 1);
        const faulty = msgs.filter((m) => m.fault === fault);
        t.ok(faulty.length >= 1, `${kind} ${fault}: marked`);
        for (const m of msgs) {
          check(t, m, now(), `${kind} ${fault}`);
          const d = judge(m, now());
          if (m.fault === fault) t.equal(d.ok ? 'accepted' : d.error.reason, REASON[fault][format]);
        }
      }
    }
  });
}

t.test(
  'skew is flagged, never refused; replay and duplicate reuse a seq; burst sends N',
  async (t) => {
    const { em, dev, tick, now } = emitter('ox', 'cbor');
    for (let i = 0; i < 10; i++) em.step();
    tick(10_000);
    const [skewed] = em.inject('skew');
    const d = judge(skewed!, now());
    t.ok(d.ok && d.value.clockSkewed && d.value.clockSkewMs === 600_000);

    const before = dev.nextSeq;
    const replay = em.inject('replay');
    t.equal(replay.length, 2, 'the reading and its replay');
    t.equal(replay[0]!.seq, before);
    t.ok(replay[1]!.seq! < before, 'replay carries an earlier seq');
    t.equal(replay[1]!.expect.gatewayCheck, 'replay');

    const [orig, dup] = em.inject('duplicate');
    t.equal(dup!.seq, orig!.seq, 'duplicate: same seq');
    t.ok(Buffer.from(dup!.payload).equals(Buffer.from(orig!.payload)), 'duplicate: same bytes');
    t.equal(dup!.expect.gatewayCheck, 'duplicate');
    t.notOk(Buffer.from(replay[1]!.payload).equals(Buffer.from(replay[0]!.payload)));

    const next = dev.nextSeq;
    const b = em.inject('burst');
    t.equal(b.length, 20);
    t.same(
      b.map((m) => m.seq),
      Array.from({ length: 20 }, (_, i) => next + i),
    );
    const f = em.inject('foreign-topic')[0]!;
    t.equal(f.topic, 'med/v1/dev/ox-2/obs', 'a peer, never itself');
    t.equal(f.expect.gatewayCheck, 'acl');
  },
);

t.test('faults at a rate: replace readings, keep seqs contiguous, each as expected', async (t) => {
  const rates = Object.fromEntries(FAULTS.map((f) => [f, 0.03]));
  for (const format of ['cbor', 'json'] as const) {
    const { em, tick, now } = emitter('nibp', format, rates);
    const seen = new Map<string, number>();
    const seqs: number[] = [];
    for (let i = 0; i < 400; i++) {
      tick(30_000);
      for (const m of em.due()) {
        seen.set(m.fault ?? 'none', (seen.get(m.fault ?? 'none') ?? 0) + 1);
        if (m.fault !== 'replay' && m.fault !== 'duplicate') seqs.push(m.seq ?? Number.NaN);
        const d = judge(m, now());
        const got = d.ok ? (d.value.clockSkewed ? 'skewed' : 'accepted') : d.error.reason;
        const want = m.expect.reason ?? (m.expect.clockSkewed ? 'skewed' : 'accepted');
        if (got !== want) t.fail(`${m.fault}: ${got} ≠ ${want}`);
      }
    }
    for (const f of FAULTS) t.ok((seen.get(f) ?? 0) > 0, `${format}: ${f} occurred`);
    // Garbage carries no readable seq but still took one: fill it from its neighbours.
    const filled = seqs.map((s, i) => (Number.isNaN(s) ? i + 1 : s));
    t.same(
      filled,
      Array.from({ length: filled.length }, (_, i) => i + 1),
      'seqs 1..n, in order',
    );
  }
});

t.test('unknown fault names and bad rates are refused', async (t) => {
  const dev = new SimDevice({ kind: 'ox', id: 'ox-1', patient: 'p' });
  t.throws(() => new DeviceEmitter(dev, { faults: { nope: 0.1 } as never }), RangeError);
  t.throws(() => new DeviceEmitter(dev, { faults: { garbage: 2 } }), RangeError);
});

t.test('docs/SIMULATORS.md lists every fault and device kind', async (t) => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'SIMULATORS.md'), 'utf8');
  for (const f of FAULTS) t.match(doc, new RegExp(`^\\| \`${f}\` \\|`, 'm'), `fault ${f}`);
  for (const k of DEVICE_KINDS) t.match(doc, new RegExp(`^\\| \`${k}\` \\|`, 'm'), `kind ${k}`);
});
