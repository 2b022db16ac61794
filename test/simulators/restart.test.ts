import { once } from 'node:events';
import t from 'tap';
import { decodeReading } from '../../core/reading-decode.js';
import { DeviceClient } from '../../simulators/client.js';
import { SimDevice } from '../../simulators/device.js';
import { startFleet } from '../../simulators/fleet.js';
import { type Received, restartablePort, startBroker } from '../helpers/sim-broker.js';

// aedes keeps sessions and unacknowledged packets in memory: a restarted broker knows
// nothing. What saves the readings is the device: mqtt.js keeps every unacknowledged QoS 1
// PUBLISH in its outgoing store and re-sends the store on reconnect, sessionPresent or not.

function seqsOf(rs: readonly Received[], id?: string): number[] {
  const out: number[] = [];
  for (const r of rs) {
    const d = decodeReading(r.payload);
    if (!d.ok) throw new Error(d.error.message);
    if (id === undefined || d.value.reading.deviceId === id) out.push(d.value.reading.seq);
  }
  return out;
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const sorted = (xs: Iterable<number>) => [...new Set(xs)].sort((x, y) => x - y);

t.test('broker restart: unacknowledged and offline readings all arrive', async (t) => {
  const a = await startBroker({ port: await restartablePort() });
  const port = a.port;
  const sim = new SimDevice({ kind: 'ox', id: 'ox-1', patient: 'pat-1' }, { seed: 9 });
  const dev = new DeviceClient(sim, { url: a.url, auto: false, reconnectPeriodMs: 50 });
  t.teardown(() => dev.stop(0));
  await once(dev, 'connect');

  for (let i = 0; i < 10; i++) dev.step();
  await dev.settled();
  t.same(seqsOf(a.received), range(1, 10), 'broker A acknowledged 1..10');

  a.hold = true; // A stops acknowledging, then dies
  for (let i = 0; i < 5; i++) dev.step();
  await a.until(() => a.held.length === 5, 5000, 'five unacknowledged PUBLISHes');
  t.equal(dev.stats().inflight, 5, '11..15 sent, not acknowledged');
  const offline = once(dev, 'offline');
  await a.close();
  await offline;

  for (let i = 0; i < 5; i++) dev.step(); // measured while the broker is down
  t.equal(dev.stats().inflight, 10, '16..20 wait in the outgoing store');
  t.equal(sim.nextSeq, 21, 'seq is the device’s, not the connection’s');

  const b = await startBroker({ port });
  t.teardown(() => b.close());
  await dev.settled(10_000);
  t.same(seqsOf(b.received), range(11, 20), 'B got 11..15 again and 16..20, in order');
  t.same(sorted([...seqsOf(a.received), ...seqsOf(b.received)]), range(1, 20), 'none lost');
  const s = dev.stats();
  t.equal(s.acked, 20);
  t.equal(s.published, 20, 'each counted once');
  t.ok(s.resent >= 5, `re-sent ${s.resent}`);
  t.ok(s.connects >= 2);
  t.equal(dev.latency.count, 20);
});

t.test('a broker that dies while the store is being re-sent: new readings not lost', async (t) => {
  // mqtt.js re-sends its store one PUBLISH at a time after a reconnect and parks new
  // publishes in a side queue meanwhile; if the link drops then, it fails them with
  // 'Connection closed' without storing them. DeviceClient publishes those again.
  const a = await startBroker({ port: await restartablePort() });
  const port = a.port;
  const sim = new SimDevice({ kind: 'ox', id: 'ox-2', patient: 'pat-2' }, { seed: 5 });
  const dev = new DeviceClient(sim, { url: a.url, auto: false, reconnectPeriodMs: 50 });
  t.teardown(() => dev.stop(0));
  await once(dev, 'connect');
  for (let i = 0; i < 3; i++) dev.step();
  await dev.settled();
  a.hold = true;
  dev.step();
  dev.step();
  await a.until(() => a.held.length === 2, 5000, 'two unacknowledged');
  let offline = once(dev, 'offline');
  await a.close();
  await offline;

  const b = await startBroker({ port });
  b.hold = true;
  await b.until(() => b.held.length >= 1, 5000, 'the store re-send to begin');
  dev.step(); // parked behind the re-send
  dev.step();
  offline = once(dev, 'offline');
  await b.close();
  await offline;

  const c = await startBroker({ port });
  t.teardown(() => c.close());
  await dev.settled(10_000);
  const all = sorted([...seqsOf(a.received), ...seqsOf(c.received)]);
  t.same(all, range(1, 7), 'every seq reached a broker that acknowledged it');
  t.equal(dev.stats().acked, 7);
  t.equal(dev.stats().published, 7);
});

t.test('a running fleet over a broker restart: every device’s seqs arrive, no gap', async (t) => {
  const a = await startBroker({ port: await restartablePort() });
  const port = a.port;
  const fleet = startFleet({
    url: a.url,
    count: 5,
    rateMultiplier: 100,
    format: 'json',
    seed: 4,
    reconnectPeriodMs: 50,
    drainMs: 10_000,
  });
  t.teardown(() => fleet.stop());
  t.equal(await fleet.connected(5000), 5);
  const ids = fleet.devices.map((d) => d.id);
  const everyDevice = (rs: Received[], n: number) => () =>
    ids.every((id) => rs.filter((r) => r.topic === `med/v1/dev/${id}/obs`).length >= n);
  // rateMultiplier 100: even the glucose meter reads every 0.6 s.
  await a.until(everyDevice(a.received, 2), 10_000, 'two readings from every device');
  a.hold = true;
  await a.until(() => a.held.length >= 10, 5000, 'unacknowledged PUBLISHes');
  await a.close();
  const b = await startBroker({ port });
  t.teardown(() => b.close());
  await b.until(everyDevice(b.received, 2), 10_000, 'two readings from every device on B');
  const s = await fleet.stop();
  t.equal(s.inflight, 0, 'all answered before stopping');
  t.equal(s.acked, s.published);
  for (const d of fleet.devices) {
    const last = d.stats().lastSeq;
    const got = sorted([...seqsOf(a.received, d.id), ...seqsOf(b.received, d.id)]);
    t.same(got, range(1, last), `${d.id}: 1..${last}`);
  }
});
