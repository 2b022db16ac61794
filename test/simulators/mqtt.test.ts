import t from 'tap';
import { decodeReading } from '../../core/reading-decode.js';
import { DeviceClient } from '../../simulators/client.js';
import { SimDevice } from '../../simulators/device.js';
import { DEVICE_KINDS } from '../../simulators/kinds.js';
import { type Received, restartablePort, startBroker } from '../helpers/sim-broker.js';

const TOPIC_RE = /^med\/v1\/dev\/([^/]+)\/obs$/;

function decode(r: Received, receivedAt?: number) {
  const id = TOPIC_RE.exec(r.topic)?.[1];
  return decodeReading(r.payload, {
    ...(id === undefined ? {} : { expectedDeviceId: id }),
    ...(receivedAt === undefined ? {} : { receivedAt }),
  });
}

function client(url: string, id: string, kind: (typeof DEVICE_KINDS)[number], extra = {}) {
  const sim = new SimDevice({ kind, id, patient: 'pat-0001', secret: `s3cret-${id}` }, { seed: 3 });
  return new DeviceClient(sim, { url, auto: false, reconnectPeriodMs: 50, ...extra });
}

t.test('each kind over MQTT: credentials, persistent session, decodable payloads', async (t) => {
  const secrets = Object.fromEntries(DEVICE_KINDS.map((k) => [`${k}-1`, `s3cret-${k}-1`]));
  const broker = await startBroker({ secrets });
  t.teardown(() => broker.close());
  const sessions: { id: string; clean: boolean }[] = [];
  broker.events.on('client', (c) => sessions.push({ id: c.id, clean: c.clean }));
  for (const format of ['cbor', 'json'] as const) {
    for (const kind of DEVICE_KINDS) {
      const dev = client(broker.url, `${kind}-1`, kind, { format });
      const before = broker.received.length;
      for (let i = 0; i < 30; i++) dev.step();
      await dev.settled();
      const s = await dev.stop();
      t.equal(s.published, 30);
      t.equal(s.acked, 30, `${kind} ${format}: 30 PUBACKs`);
      t.equal(dev.latency.count, 30, 'a latency per PUBACK');
      t.ok(dev.latency.summary().p99Ms > 0);
      const mine = broker.received.slice(before);
      t.equal(mine.length, 30);
      const seqs: number[] = [];
      for (const r of mine) {
        t.equal(r.username, `${kind}-1`, 'username = device id');
        t.equal(r.clientId, `${kind}-1`, 'stable client id = device id, as the gateway requires');
        const d = decode(r, Date.now());
        if (!d.ok) return t.fail(`${kind}: ${d.error.message}`);
        t.equal(d.value.format, format);
        seqs.push(d.value.reading.seq);
      }
      t.same(
        seqs,
        Array.from({ length: 30 }, (_, i) => i + 1),
        `${kind}: seq 1..30 in order`,
      );
    }
  }
  t.ok(sessions.length >= 10);
  t.ok(
    sessions.every((s) => !s.clean),
    'clean: false',
  );
});

t.test('a wrong secret is refused by the broker and counted', async (t) => {
  const broker = await startBroker({ secrets: { 'ox-1': 'right' } });
  t.teardown(() => broker.close());
  const sim = new SimDevice({ kind: 'ox', id: 'ox-1', patient: 'p', secret: 'wrong' });
  const dev = new DeviceClient(sim, { url: broker.url, auto: false, reconnectPeriodMs: 0 });
  await new Promise<void>((resolve) => dev.mqtt.once('error', () => resolve()));
  const s = await dev.stop(0);
  t.equal(s.connects, 0);
  t.ok(s.errors >= 1);
  t.match(s.lastError, /Bad username or password/);
});

t.test('a broker that drops the link on a faulty message: given up, the rest flows', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.close());
  // As a gateway's ACL does: aedes closes the connection when authorizePublish fails.
  broker.refuse = (r) =>
    r.topic === 'med/v1/dev/ox-1/obs' || r.username === undefined
      ? undefined
      : new Error('not your topic');
  const dev = client(broker.url, 'ox-1', 'ox', { maxFaultAttempts: 2, peers: ['ox-2'] });
  await new Promise<void>((r) => dev.once('connect', () => r()));
  for (let i = 0; i < 5; i++) dev.step();
  const [foreign] = dev.inject('foreign-topic');
  t.equal(foreign!.topic, 'med/v1/dev/ox-2/obs');
  for (let i = 0; i < 5; i++) dev.step();
  await dev.settled(10_000);
  const s = await dev.stop();
  t.equal(broker.refused.length, 2, 'sent once, re-sent once after the reconnect');
  t.same(s.byFault['foreign-topic'], { sent: 1, acked: 0, rejected: 0, abandoned: 1 });
  t.equal(s.abandoned, 1);
  t.equal(s.acked, 10, 'every valid reading acknowledged');
  t.ok(s.connects >= 3, 'the broker closed the link twice');
  const seqs = new Set(
    broker.received.map(
      (r) => (decode(r) as { ok: true; value: { reading: { seq: number } } }).value.reading.seq,
    ),
  );
  t.same(
    [...seqs].sort((a, b) => a - b),
    [1, 2, 3, 4, 5, 7, 8, 9, 10, 11],
  );
});

t.test(
  'backlog: beyond maxInflight, readings wait in the device and all get through',
  async (t) => {
    const broker = await startBroker();
    t.teardown(() => broker.close());
    const dev = client(broker.url, 'ecg-1', 'ecg', { maxInflight: 4 });
    await new Promise<void>((r) => dev.once('connect', () => r()));
    for (let i = 0; i < 200; i++) dev.step();
    t.ok(dev.stats().backlog > 0, 'some wait');
    t.ok(dev.stats().inflight <= 4);
    await dev.settled();
    const s = await dev.stop();
    t.equal(s.acked, 200);
    t.equal(s.backlog, 0);
    t.equal(s.lastSeq, 200);
  },
);

t.test(
  'startOnConnect: measure from the first CONNACK, or from power-on and catch up',
  async (t) => {
    // Devices retry a closed port before the broker starts: keep it out of the ephemeral range.
    const port = await restartablePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const make = (id: string, startOnConnect: boolean) =>
      new DeviceClient(
        new SimDevice({ kind: 'ox', id, patient: 'p' }, { rateMultiplier: 50, seed: 1 }),
        { url, reconnectPeriodMs: 20, startOnConnect },
      );
    const early = make('ox-early', false);
    const late = make('ox-late', true);
    t.teardown(() => Promise.all([early.stop(0), late.stop(0)]));
    let kept = 0;
    let lateBefore = 0;
    late.on('publish', () => lateBefore++);
    await new Promise<void>((resolve) =>
      early.on('publish', () => {
        if (++kept === 10) resolve();
      }),
    );
    t.equal(lateBefore, 0, 'no broker yet: the late starter has measured nothing');
    t.equal(early.stats().inflight, 10, 'ten readings kept while there is no broker');
    let connectedAt = Number.POSITIVE_INFINITY;
    late.once('connect', () => {
      connectedAt = Date.now();
    });
    const up = Date.now();
    const broker = await startBroker({ port });
    t.teardown(() => broker.close());
    const times = (id: string) =>
      broker.received
        .filter((r) => r.username === id)
        .map((r) => {
          const d = decodeReading(r.payload);
          return d.ok ? d.value.reading.deviceTime : Number.NaN;
        });
    // Both devices reconnect on their own schedule: wait for the late one's readings and
    // for the early one's kept ones, whichever comes last (a loaded CI box once saw the
    // late one's five before the early one had replayed its ten).
    await broker.until(
      () => times('ox-late').length >= 5 && times('ox-early').filter((x) => x < up).length >= 10,
      30_000,
      'readings from the late starter and the kept ones of the early one',
    );
    t.ok(
      times('ox-early').filter((x) => x < up).length >= 10,
      'the early one sent what it measured before the broker was up',
    );
    t.ok(
      times('ox-late').every((x) => x >= connectedAt),
      'the late one measured nothing before its CONNACK',
    );
    // Its schedule starts at the CONNACK: the first reading within 1000 ms / rate (20 ms).
    t.ok(times('ox-late')[0]! - connectedAt < 20 + 50, 'and it measured right away');
  },
);
