import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { PublishLog, perSecond, ratio, receiptLatency } from '../../bench/latency.js';
import { LOAD_KINDS, makeReadings, nominalRate, runLoad } from '../../bench/load.js';
import { areaOf, summariseProfile } from '../../bench/profile.js';
import { decodeReading } from '../../core/reading-decode.js';
import { startBroker } from '../helpers/sim-broker.js';

t.test(
  'receipt latency: publish log joined with receipt times, quantiles, unreceipted',
  async (t) => {
    const log = new PublishLog();
    // 100 readings of one device, published at 1000 ms; receipts 1..100 ms later.
    for (let seq = 1; seq <= 100; seq++) log.record('ecg-1', seq, 1000);
    log.record('ox-1', 1, 5000);
    t.equal(log.size, 101);
    const rows = [
      ...Array.from({ length: 100 }, (_, i) => ({
        deviceId: 'ecg-1',
        seq: i + 1,
        receiptAt: 1001 + i,
      })),
      { deviceId: 'ox-1', seq: 1, receiptAt: null },
      // Not in the log (published outside the window): ignored.
      { deviceId: 'ox-1', seq: 2, receiptAt: 9_999_999 },
      { deviceId: 'glu-9', seq: 1, receiptAt: 1 },
    ];
    const r = receiptLatency(log, rows);
    t.equal(r.count, 100);
    t.equal(r.unreceipted, 1);
    // The histogram reports within 1/64 of the true value: 50 ms and 99 ms.
    t.ok(Math.abs(r.p50Ms - 50) <= 50 / 64, `p50 ${r.p50Ms}`);
    t.ok(Math.abs(r.p99Ms - 99) <= 99 / 64, `p99 ${r.p99Ms}`);
    t.equal(r.maxMs, 100);
    // A receipt stamped before the publish (clock step) counts as 0, not negative.
    const early = receiptLatency(log, [{ deviceId: 'ox-1', seq: 1, receiptAt: 4000 }]);
    t.equal(early.maxMs, 0);
  },
);

t.test('rates and ratios', async (t) => {
  t.equal(perSecond(500, 250), 2000);
  t.equal(perSecond(5, 0), 0);
  t.equal(ratio(1, 3), 0.33);
  t.equal(ratio(1, 0), null);
});

t.test(
  'makeReadings: the offered rate over the span, five kinds, seqs without holes',
  async (t) => {
    const devices = 10;
    const r = makeReadings({ devices, idPrefix: 'mk-', offeredPerSec: 400, spanMs: 2000 });
    t.equal(r.specs.length, devices);
    t.same([...new Set(r.specs.map((s) => s.kind))], LOAD_KINDS);
    t.equal(nominalRate(['ecg', 'ox']), 5);
    const msgs = r.due.flatMap((d) => d.msgs);
    // 400/s for 2 s, give or take each device's first-slot phase.
    t.ok(msgs.length >= 700 && msgs.length <= 820, `${msgs.length} readings`);
    t.ok(
      r.due.every((d, i) => i === 0 || r.due[i - 1]!.at <= d.at),
      'in time order',
    );
    t.ok(
      r.due.every((d) => d.at >= 0 && d.at < 2000),
      'inside the span',
    );
    const seqs = new Map<string, number[]>();
    for (const m of msgs) {
      const id = /^med\/v1\/dev\/([^/]+)\/obs$/.exec(m.topic)?.[1] ?? '';
      const d = decodeReading(m.payload, { expectedDeviceId: id });
      t.equal(d.ok, true);
      seqs.set(id, [...(seqs.get(id) ?? []), m.seq ?? -1]);
    }
    for (const [id, s] of seqs)
      t.same(
        s,
        Array.from({ length: s.length }, (_, i) => i + 1),
        id,
      );
    const ecg = msgs.filter((m) => m.topic.includes('/mk-ecg-')).length;
    t.ok(ecg / msgs.length > 0.7, 'ECG frames are most of the readings (4 Hz against ≤ 1 Hz)');
  },
);

t.test('runLoad against bare aedes: counts agree with the broker and the window', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.close());
  const readings = makeReadings({ devices: 10, idPrefix: 'ld-', offeredPerSec: 200, spanMs: 1500 });
  const published: string[] = [];
  let starts = 0;
  let ends = 0;
  const r = await runLoad({
    url: broker.url,
    readings,
    warmupMs: 300,
    windowMs: 1000,
    onPublish: (d, seq) => published.push(`${d}#${seq}`),
    atStart: () => {
      starts++;
    },
    atEnd: () => {
      ends++;
    },
  });
  t.equal(starts, 1);
  t.equal(ends, 1);
  t.equal(r.devices, 10);
  t.equal(r.connected, 10);
  t.equal(r.offeredPerSec, 200);
  t.equal(r.publishedPerSec, perSecond(published.length, r.windowMs));
  t.equal(r.ackedPerSec, perSecond(r.puback.count, r.windowMs));
  t.ok(r.puback.p50Ms <= r.puback.p99Ms && r.puback.p99Ms <= r.puback.maxMs);
  t.ok(r.meanPayloadBytes > 0);
  // Every reading released in the window crossed the broker (runLoad drains before it returns).
  const seen = new Set(
    broker.received.map((m) => {
      const id = /^med\/v1\/dev\/([^/]+)\/obs$/.exec(m.topic)?.[1] ?? '';
      const d = decodeReading(m.payload, { expectedDeviceId: id });
      return d.ok ? `${id}#${d.value.reading.seq}` : 'undecodable';
    }),
  );
  t.notOk(seen.has('undecodable'));
  t.ok(published.length > 0);
  t.ok(
    published.every((k) => seen.has(k)),
    'published readings were received',
  );
});

t.test('runLoad refuses readings that end before warm-up and window', async (t) => {
  const readings = makeReadings({ devices: 5, idPrefix: 'sh-', offeredPerSec: 50, spanMs: 500 });
  await t.rejects(
    runLoad({ url: 'mqtt://127.0.0.1:1', readings, warmupMs: 300, windowMs: 300 }),
    RangeError,
  );
});

t.test('profile summary: self time by area and function', async (t) => {
  t.equal(areaOf('file:///x/node_modules/sqlite3/lib/sqlite3.js', 'run'), 'sqlite3');
  t.equal(areaOf('file:///x/node_modules/@noble/curves/nist.js', 'verify'), '@noble/curves');
  t.equal(areaOf('file:///w/dist/gateway/spool.js', 'insertBatch'), 'gateway/');
  t.equal(areaOf('node:internal/timers', 'listOnTimeout'), 'node:');
  t.equal(areaOf('', '(idle)'), '(idle)');
  t.equal(areaOf('', 'writeBuffer'), '(native)');
  const dir = mkdtempSync(join(tmpdir(), 'medchain-prof-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'p.cpuprofile');
  const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 9 });
  writeFileSync(
    file,
    JSON.stringify({
      startTime: 0,
      endTime: 2_000_000,
      nodes: [
        { id: 1, callFrame: frame('(idle)', '') },
        { id: 2, callFrame: frame('insertOne', 'file:///w/dist/gateway/spool.js') },
        { id: 3, callFrame: frame('run', 'file:///w/node_modules/sqlite3/lib/sqlite3.js') },
      ],
      samples: [1, 2, 2, 2, 3, 1, 2, 3, 2, 1],
    }),
  );
  const s = summariseProfile(file);
  t.equal(s.seconds, 2);
  t.same(s.byArea, { 'gateway/': 50, '(idle)': 30, sqlite3: 20 });
  t.same(s.topFunctions[0], { fn: 'insertOne gateway/spool.js:10', pct: 50 });
});
