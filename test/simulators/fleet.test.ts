import t from 'tap';
import { decodeReading } from '../../core/reading-decode.js';
import { parseCredentials } from '../../simulators/credentials.js';
import type { OutMessage } from '../../simulators/faults.js';
import { planDevices, startFleet } from '../../simulators/fleet.js';
import { LatencyHistogram } from '../../simulators/histogram.js';
import { startBroker } from '../helpers/sim-broker.js';

const TOPIC_RE = /^med\/v1\/dev\/([^/]+)\/obs$/;

t.test('planDevices: bed by bed over the kinds, prefixed, with secrets', async (t) => {
  const specs = planDevices({
    count: 5,
    kinds: ['ox', 'ecg'],
    idPrefix: 'w3-',
    credentials: (id) => `pw-${id}`,
  });
  t.same(
    specs.map((s) => [s.kind, s.id, s.patient, s.secret]),
    [
      ['ox', 'w3-ox-0001', 'w3-pat-0001', 'pw-w3-ox-0001'],
      ['ecg', 'w3-ecg-0001', 'w3-pat-0001', 'pw-w3-ecg-0001'],
      ['ox', 'w3-ox-0002', 'w3-pat-0002', 'pw-w3-ox-0002'],
      ['ecg', 'w3-ecg-0002', 'w3-pat-0002', 'pw-w3-ecg-0002'],
      ['ox', 'w3-ox-0003', 'w3-pat-0003', 'pw-w3-ox-0003'],
    ],
  );
  t.throws(() => startFleet({ url: 'mqtt://127.0.0.1:1', count: 0 }), RangeError);
});

t.test('credentials file: secrets, kinds from ids or given, refusals', async (t) => {
  const c = parseCredentials(
    JSON.stringify({ 'ox-1': 'a', 'bed2-monitor': { secret: 'b', kind: 'ecg', patient: 'P2' } }),
  );
  t.same(c.secrets, { 'ox-1': 'a', 'bed2-monitor': 'b' });
  t.same(
    c.devices().map((d) => [d.id, d.kind, d.patient, d.secret]),
    [
      ['ox-1', 'ox', 'pat-ox-1', 'a'],
      ['bed2-monitor', 'ecg', 'P2', 'b'],
    ],
  );
  t.throws(() => parseCredentials('{'), /not JSON/);
  t.throws(() => parseCredentials('{"a/b":"x"}'), /a\/b/);
  t.throws(() => parseCredentials('{"mystery":"x"}').devices(), /no "kind"/);
});

t.test('histogram: quantiles within 1/64, merge adds', async (t) => {
  const h = new LatencyHistogram();
  for (let i = 1; i <= 1000; i++) h.record(i / 10); // 0.1 .. 100 ms
  const s = h.summary();
  t.equal(s.count, 1000);
  t.ok(Math.abs(s.p50Ms - 50) / 50 < 1 / 64, `p50 ${s.p50Ms}`);
  t.ok(Math.abs(s.p99Ms - 99) / 99 < 1 / 64, `p99 ${s.p99Ms}`);
  t.equal(s.maxMs, 100);
  t.ok(Math.abs(s.meanMs - 50.05) < 0.01);
  const both = new LatencyHistogram().merge(h).merge(h);
  t.equal(both.summary().count, 2000);
  t.equal(both.summary().p50Ms, s.p50Ms);
  t.equal(new LatencyHistogram().summary().p99Ms, 0);
});

t.test(
  'a fleet with faults at rates: stats add up, every payload judged as expected',
  async (t) => {
    const broker = await startBroker({
      secrets: Object.fromEntries(
        planDevices({ count: 10, idPrefix: 'w1-' }).map((d) => [d.id, `pw-${d.id}`]),
      ),
    });
    t.teardown(() => broker.close());
    const ticks: number[] = [];
    const fleet = startFleet({
      url: broker.url,
      count: 10,
      idPrefix: 'w1-',
      credentials: (id) => `pw-${id}`,
      rateMultiplier: 20,
      faults: {
        garbage: 0.02,
        'out-of-range': 0.02,
        'unknown-code': 0.02,
        oversize: 0.01,
        skew: 0.02,
        replay: 0.02,
        burst: 0.005,
      },
      format: 'cbor',
      seed: 12,
      durationMs: 1500,
      statsIntervalMs: 100,
      onStats: (s) => ticks.push(s.published),
    });
    const acked: OutMessage[] = [];
    for (const d of fleet.devices) d.on('ack', (m) => acked.push(m));
    t.equal(await fleet.connected(5000), 10, 'every device authenticated');
    const s = await fleet.done;
    t.ok(ticks.length >= 3, `onStats called ${ticks.length} times`);
    t.ok(
      ticks.every((n, i) => i === 0 || n >= ticks[i - 1]!),
      'published never decreases',
    );
    t.equal(s.devices, 10);
    t.ok(s.published > 100, `${s.published} published`);
    t.equal(s.acked, s.published, 'this broker acknowledges everything');
    t.equal(s.inflight, 0);
    t.equal(s.latency.count, s.acked);
    t.ok(s.latency.p50Ms > 0 && s.latency.p99Ms >= s.latency.p50Ms);
    t.equal(broker.received.length, s.published);
    const faults = Object.values(s.byFault).reduce((n, c) => n + c.sent, 0);
    t.ok(faults > 0, `${faults} faulty messages`);
    const configured = ['garbage', 'out-of-range', 'unknown-code', 'oversize', 'skew', 'replay'];
    const seen = Object.keys(s.byFault);
    t.ok(
      seen.every((f) => [...configured, 'burst'].includes(f)),
      `only configured faults: ${seen}`,
    );
    t.ok(seen.length >= 4, `several kinds of fault occurred: ${seen}`);

    let judged = 0;
    for (const m of acked) {
      const id = TOPIC_RE.exec(m.topic)?.[1];
      const d = decodeReading(m.payload, { expectedDeviceId: id!, receivedAt: Date.now() });
      const got = d.ok ? (d.value.clockSkewed ? 'skewed' : 'ok') : d.error.reason;
      const want = m.expect.reason ?? (m.expect.clockSkewed ? 'skewed' : 'ok');
      if (got !== want) t.fail(`${m.fault}: ${got} ≠ ${want}`);
      judged++;
    }
    t.equal(judged, s.acked, 'every acknowledged message judged');
    const again = await fleet.stop();
    t.equal(again.published, s.published, 'stop after done is idempotent');
  },
);

t.test(
  'an injected clock sets device time: a skewed fleet is flagged by decodeReading',
  async (t) => {
    const broker = await startBroker();
    t.teardown(() => broker.close());
    const fleet = startFleet({
      url: broker.url,
      count: 2,
      kinds: ['ox'],
      rateMultiplier: 20,
      clock: () => Date.now() + 3_600_000,
    });
    t.teardown(() => fleet.stop());
    await broker.until(() => broker.received.length >= 10, 5000, 'ten readings');
    await fleet.stop();
    for (const r of broker.received) {
      const d = decodeReading(r.payload, { receivedAt: Date.now() });
      if (!d.ok || !d.value.clockSkewed || d.value.clockSkewMs < 3_500_000) {
        return t.fail('every reading an hour ahead');
      }
    }
    t.pass('every reading an hour ahead, flagged');
  },
);
