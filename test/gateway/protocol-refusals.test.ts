/**
 * Every MQTT protocol violation a device can send is refused, counted with its reason
 * and the connection closed; the broker serves the next device as before. Sent as raw
 * bytes, since a client library will not produce them.
 */
import { connect, type Socket } from 'node:net';
import t from 'tap';
import { encodeReading } from '../../core/reading.js';
import { deviceBroker, type Harness } from './broker-harness.js';
import { metricValue, onceWithin, reading, readingBytes, within } from './helpers.js';

const str = (s: string | Uint8Array) => {
  const b = typeof s === 'string' ? Buffer.from(s) : Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};
/** Remaining Length (MQTT 3.1.1 §2.2.3). */
const remaining = (n: number) => {
  const out: number[] = [];
  do {
    let d = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) d |= 0x80;
    out.push(d);
  } while (n > 0);
  return Buffer.from(out);
};
const packet = (first: number, body: Buffer) =>
  Buffer.concat([Buffer.from([first]), remaining(body.length), body]);
const connectPacket = (h: Harness, keepalive = 30) =>
  packet(
    0x10,
    Buffer.concat([
      str('MQTT'),
      Buffer.from([4, 0xc2, keepalive >> 8, keepalive & 0xff]),
      str('ox-1'),
      str('ox-1'),
      str(h.secrets['ox-1']!),
    ]),
  );
const publish = (topic: string, qos: number, id: number, payload: Uint8Array, first?: number) =>
  packet(
    first ?? 0x30 | (qos << 1),
    Buffer.concat([
      str(topic),
      qos > 0 ? Buffer.from([id >> 8, id & 0xff]) : Buffer.alloc(0),
      Buffer.from(payload),
    ]),
  );

/** Opens a raw connection; `connack` resolves with the CONNACK code. */
function raw(h: Harness): { sock: Socket; connack: Promise<number>; received: Buffer[] } {
  const sock = connect(h.broker.port, '127.0.0.1');
  const received: Buffer[] = [];
  const connack = new Promise<number>((resolve, reject) => {
    sock.on('data', (d: Buffer) => {
      received.push(d);
      const all = Buffer.concat(received);
      if (all.length >= 4 && all[0] === 0x20) resolve(all[3]!);
    });
    sock.on('close', () => reject(new Error('closed before CONNACK')));
  });
  connack.catch(() => {});
  sock.on('error', () => {});
  return { sock, connack, received };
}

const OBS = 'med/v1/dev/ox-1/obs';

t.test('each violation: refused, counted by reason, connection closed', async (t) => {
  const h = await deviceBroker(t);
  const cases: [string, (h: Harness) => Buffer[]][] = [
    [
      'publish-wildcard',
      (h) => [connectPacket(h), publish('med/v1/dev/+/obs', 1, 1, readingBytes('ox-1', 1))],
    ],
    [
      'topic-too-deep',
      (h) => [connectPacket(h), publish('a/b/c/d/e/f/g/h/i/j', 1, 1, Buffer.from('x'))],
    ],
    ['reserved-packet-type', (h) => [connectPacket(h), Buffer.from([0xf0, 0x00])]],
    ['second-connect', (h) => [connectPacket(h), connectPacket(h)]],
    ['qos-3', (h) => [connectPacket(h), publish(OBS, 1, 1, readingBytes('ox-1', 1), 0x36)]],
    // SUBSCRIBE must have flags 0b0010 [MQTT-3.8.1-1]: 0x80 has 0.
    [
      'bad-flags',
      (h) => [
        connectPacket(h),
        packet(
          0x80,
          Buffer.concat([Buffer.from([0, 1]), str('med/v1/dev/ox-1/cfg'), Buffer.from([1])]),
        ),
      ],
    ],
    ['not-connect-first', () => [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]],
    ['packet-id-zero', (h) => [connectPacket(h), publish(OBS, 1, 0, readingBytes('ox-1', 7))]],
  ];
  for (const [reason, bytes] of cases) {
    const [first, ...rest] = bytes(h);
    const c = raw(h);
    c.sock.write(first!);
    if (rest.length > 0) {
      t.equal(await within(30_000, `CONNACK (${reason})`, c.connack), 0);
      for (const b of rest) c.sock.write(b);
    }
    await onceWithin(c.sock, 'close', 10_000);
    t.equal(await metricValue(h.metrics.protocolRefused, { reason }), 1, `counted: ${reason}`);
  }
  // No PUBACK for the QoS 1 reading with packet id 0, and it was not stored.
  t.equal(await h.count(), 0, 'nothing stored from any of them');
  const c = await h.connect('ox-1');
  await c.publishAsync(OBS, Buffer.from(readingBytes('ox-1', 1)), { qos: 1 });
  t.equal(await h.count(), 1, 'the broker serves the device as before');
});

t.test('keepalive 0 is capped: a half-sent PUBLISH cannot hold the connection open', async (t) => {
  const h = await deviceBroker(t, { keepaliveLimitS: 1 });
  const c = raw(h);
  c.sock.write(connectPacket(h, 0));
  t.equal(await within(30_000, 'CONNACK', c.connack), 0, 'keepalive 0 is accepted, then capped');
  const half = publish(OBS, 1, 1, readingBytes('ox-1', 1));
  c.sock.write(half.subarray(0, 6));
  // 1.5 × the capped keepalive without a whole packet: the broker closes it.
  await onceWithin(c.sock, 'close', 15_000);
  t.equal(await metricValue(h.metrics.keepaliveCapped), 1);
  t.equal(await h.count(), 0);
});

t.test('a reading dated before 2000 (clock reset) is kept, flagged and counted', async (t) => {
  const h = await deviceBroker(t);
  const c = await h.connect('ox-1');
  const reset = { ...reading('ox-1', 1), deviceTime: 86_400_000 }; // 1970-01-02
  await c.publishAsync(OBS, Buffer.from(encodeReading(reset)), { qos: 1 });
  const json = JSON.stringify({
    deviceId: 'ox-1',
    seq: 2,
    time: '2000-01-01T00:00:00.000Z',
    patient: 'MRN-1',
    obs: [{ code: 'MDC_PULS_OXIM_SAT_O2', value: '97', unit: '%' }],
  });
  await c.publishAsync(OBS, Buffer.from(json), { qos: 1 });
  t.equal(await h.count(), 2, 'both stored');
  t.equal(await metricValue(h.metrics.clockReset), 1, 'only the one before 2000 is a reset clock');
  t.equal(
    await metricValue(h.metrics.skewed),
    2,
    'both are beyond the skew (flagged, not corrected)',
  );
  const row = await h.spool.db.get<{ bytes: Uint8Array }>(
    "SELECT bytes FROM readings WHERE device_id = 'ox-1' AND seq = 1",
  );
  t.same(
    Buffer.from(row!.bytes),
    Buffer.from(encodeReading(reset)),
    'stored as sent: never corrected',
  );
});
