import { connect as tcpConnect } from 'node:net';
import mqtt from 'mqtt';
import t from 'tap';
import { encodeDet } from '../../core/det-cbor.js';
import { ReadingReason } from '../../core/reading-errors.js';
import { Spool } from '../../gateway/spool.js';
import { deviceBroker } from './broker-harness.js';
import {
  jsonReading,
  metricValue,
  onceWithin,
  rawConnack,
  readingBytes,
  within,
} from './helpers.js';

const obs = (id: string) => `med/v1/dev/${id}/obs`;

t.test('a reading is PUBACKed only once committed; CBOR and JSON', async (t) => {
  const h = await deviceBroker(t);
  const c = await h.connect('ox-1');
  await c.publishAsync(obs('ox-1'), Buffer.from(readingBytes('ox-1', 1)), { qos: 1 });
  // The PUBACK has arrived: a separate connection to the file must see the row.
  const outside = await Spool.open(h.spool.db.path);
  const row = await outside.db.get<{ n: number }>(
    "SELECT count(*) AS n FROM readings WHERE device_id = 'ox-1' AND seq = 1",
  );
  await outside.close();
  t.equal(row?.n, 1, 'committed before the PUBACK');
  await c.publishAsync(obs('ox-1'), Buffer.from(jsonReading('ox-1', 2)), { qos: 1 });
  t.equal(await h.count(), 2);
  t.equal(await metricValue(h.metrics.accepted), 2);
});

t.test('duplicates are acknowledged, stored once; gaps counted', async (t) => {
  const h = await deviceBroker(t);
  const c = await h.connect('ox-1');
  const p = Buffer.from(readingBytes('ox-1', 5));
  await c.publishAsync(obs('ox-1'), p, { qos: 1 });
  await c.publishAsync(obs('ox-1'), p, { qos: 1 });
  await c.publishAsync(obs('ox-1'), Buffer.from(readingBytes('ox-1', 9)), { qos: 1 });
  t.equal(await h.count(), 2);
  t.equal(await metricValue(h.metrics.duplicates), 1);
  t.equal(await metricValue(h.metrics.gaps), 3, 'seq 6, 7, 8 missing');
  await c.publishAsync(obs('ox-1'), Buffer.from(readingBytes('ox-1', 5, 80)), { qos: 1 });
  t.equal(await metricValue(h.metrics.rejected, { reason: 'conflict' }), 1);
  t.equal(await h.count(), 2, 'a conflicting reading does not replace the spooled one');
});

t.test(
  'every rejection reason, from a real client, counted; the connection keeps working',
  async (t) => {
    const h = await deviceBroker(t, {
      limits: { maxPayloadBytes: 2048, maxObservations: 3, maxSamples: 4 },
      maxPacketBytes: 64 * 1024,
    });
    const c = await h.connect('ox-1');
    let closed = 0;
    c.on('close', () => closed++);
    const base = {
      deviceId: 'ox-1',
      seq: 1,
      time: new Date().toISOString(),
      patient: 'MRN-1',
      obs: [{ code: 'MDC_PULS_OXIM_SAT_O2', value: '97', unit: '%' }],
    };
    const j = (v: object) => Buffer.from(JSON.stringify({ ...base, ...v }));
    const ox = (value: string, unit = '%') => ({ code: 'MDC_PULS_OXIM_SAT_O2', value, unit });
    const cases: [string, Buffer][] = [
      [ReadingReason.PayloadTooLarge, j({ pad: 'x'.repeat(3000) })],
      [ReadingReason.MalformedCbor, Buffer.from([0x83, 0x01])],
      [ReadingReason.MalformedJson, Buffer.from('{"deviceId": ')],
      [ReadingReason.Schema, j({ patient: undefined })],
      [ReadingReason.UnknownCode, j({ obs: [{ code: 'MDC_NOPE', value: '1', unit: '%' }] })],
      [ReadingReason.UnitMismatch, j({ obs: [ox('97', 'mg')] })],
      [ReadingReason.OutOfRange, j({ obs: [ox('150')] })],
      [ReadingReason.TooManyObservations, j({ obs: [ox('1'), ox('2'), ox('3'), ox('4')] })],
      [
        ReadingReason.TooManySamples,
        j({
          obs: [
            { code: 131330, samples: [1, 2, 3, 4, 5], periodUs: 2000, scale: '0.005', unit: 'mV' },
          ],
        }),
      ],
      [ReadingReason.DeviceIdMismatch, j({ deviceId: 'ox-2' })],
      [ReadingReason.Schema, Buffer.from(encodeDet([1, 'ox-1']))],
    ];
    t.equal(
      new Set(cases.map(([r]) => r)).size,
      Object.values(ReadingReason).length,
      'every ReadingReason is exercised',
    );
    for (const [reason, payload] of cases) {
      await within(30_000, reason, c.publishAsync(obs('ox-1'), payload, { qos: 1 }));
    }
    for (const reason of Object.values(ReadingReason)) {
      t.ok((await metricValue(h.metrics.rejected, { reason })) >= 1, `counted: ${reason}`);
    }
    t.equal(await h.count(), 0, 'nothing invalid stored');
    await c.publishAsync(obs('ox-1'), j({ seq: 2 }), { qos: 1 });
    t.equal(await h.count(), 1, 'a valid reading on the same connection is stored');
    t.equal(closed, 0, 'the connection was never closed');
  },
);

t.test(
  'CONNECT refusals: wrong secret, unknown device, empty id with a session, foreign id',
  async (t) => {
    const h = await deviceBroker(t);
    const refused = (extra: mqtt.IClientOptions) =>
      mqtt
        .connectAsync(h.url, {
          protocolVersion: 4,
          reconnectPeriod: 0,
          connectTimeout: 30_000,
          ...extra,
        })
        .then(
          (c) => {
            c.end(true);
            return 0;
          },
          (err: { code?: number }) => err.code,
        );
    t.equal(
      await refused({ clientId: 'ox-1', username: 'ox-1', password: 'wrong-secret-123456' }),
      4,
    );
    t.equal(
      await refused({ clientId: 'nobody', username: 'nobody', password: h.secrets['ox-1']! }),
      4,
    );
    t.equal(await refused({ clientId: 'ox-1', username: 'ox-1' }), 4, 'no password');
    t.equal(
      await rawConnack(h.broker.port, {
        clientId: '',
        clean: false,
        username: 'ox-1',
        password: h.secrets['ox-1']!,
      }),
      2,
      '[MQTT-3.1.3-8]',
    );
    t.equal(
      await refused({ clientId: 'ox-2', username: 'ox-1', password: h.secrets['ox-1']! }),
      2,
      "another device's client id",
    );
    t.equal(
      await refused({ clientId: '', clean: true, username: 'ox-1', password: h.secrets['ox-1']! }),
      0,
      'empty id with a clean session is accepted',
    );
    t.equal(await metricValue(h.metrics.connectRefused, { reason: 'bad-credentials' }), 3);
  },
);

t.test('ACL: no publishing as another device; no subscribing to #, $SYS/#, others', async (t) => {
  const h = await deviceBroker(t);
  const spy = await h.connect('ox-2');
  const sub = (topic: string) =>
    spy.subscribeAsync(topic, { qos: 1 }).then(
      (g) => g[0]?.qos,
      (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0],
    );
  t.equal(await sub('#'), 128);
  t.equal(await sub('$SYS/#'), 128);
  t.equal(await sub(obs('ox-1')), 128);
  t.equal(await sub('med/v1/dev/+/obs'), 128);
  t.equal(await sub(obs('ox-2')), 128, 'not even its own readings');
  t.equal(await sub('med/v1/dev/ox-2/cmd'), 1, 'its own exact non-readings topic is allowed');
  t.equal(await metricValue(h.metrics.aclDenied, { action: 'subscribe' }), 5);

  const c = await h.connect('ox-1');
  const closed = onceWithin(c, 'close');
  c.publish(obs('ox-2'), Buffer.from(readingBytes('ox-2', 1)), { qos: 1 });
  await closed;
  t.equal(await h.count(), 0, 'nothing stored');
  t.equal(await metricValue(h.metrics.aclDenied, { action: 'publish' }), 1);
});

t.test(
  'hostile topics and oversized packets close the connection, the broker lives on',
  async (t) => {
    const h = await deviceBroker(t, { maxPacketBytes: 4096 });
    for (const topic of ['__proto__', 'constructor/prototype', `${'a/'.repeat(150)}x`]) {
      const c = await h.connect('ox-1');
      const closed = onceWithin(c, 'close');
      c.publish(topic, Buffer.from('x'), { qos: 1 });
      await closed;
      t.pass(`closed after publishing on ${topic.slice(0, 30)}`);
    }
    const c = await h.connect('ox-1');
    const closed = onceWithin(c, 'close');
    c.publish(obs('ox-1'), Buffer.alloc(10_000, 0x41), { qos: 1 });
    await closed;
    t.equal(await metricValue(h.metrics.rejected, { reason: 'packet-too-large' }), 1);
    // A raw client announcing a 200 MB packet is cut off after its fixed header.
    const sock = tcpConnect(h.broker.port, '127.0.0.1');
    await onceWithin(sock, 'connect');
    sock.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]));
    await onceWithin(sock, 'close');
    const ok = await h.connect('ox-2');
    await ok.publishAsync(obs('ox-2'), Buffer.from(readingBytes('ox-2', 1)), { qos: 1 });
    t.equal(await h.count(), 1, 'still serving');
  },
);

t.test('a will is never published, not even on the device topic', async (t) => {
  const h = await deviceBroker(t);
  const c = await h.connect('ox-1', {
    will: {
      topic: obs('ox-1'),
      payload: Buffer.from(readingBytes('ox-1', 77)),
      qos: 1,
      retain: false,
    },
  });
  const closed = onceWithin(c, 'close');
  // Drop the TCP connection without DISCONNECT: the case where a will would fire.
  (c.stream as unknown as { destroy(): void }).destroy();
  await closed;
  const other = await h.connect('ox-2');
  await other.publishAsync(obs('ox-2'), Buffer.from(readingBytes('ox-2', 1)), { qos: 1 });
  t.equal(await h.count(), 1, 'only ox-2 reading; the will was not stored');
});

t.test('backpressure: no PUBACK above the limit, resumes below', async (t) => {
  const h = await deviceBroker(t, { maxBacklogReadings: 2 });
  const c = await h.connect('ox-1', { reconnectPeriod: 50 });
  await c.publishAsync(obs('ox-1'), Buffer.from(readingBytes('ox-1', 1)), { qos: 1 });
  await c.publishAsync(obs('ox-1'), Buffer.from(readingBytes('ox-1', 2)), { qos: 1 });
  t.ok(h.intake.overloaded);
  let acked = false;
  const third = c
    .publishAsync(obs('ox-1'), Buffer.from(readingBytes('ox-1', 3)), { qos: 1 })
    .then(() => {
      acked = true;
    });
  await onceWithin(c, 'close');
  t.notOk(acked, 'no PUBACK while the spool is full');
  t.ok((await metricValue(h.metrics.rejected, { reason: 'pushback' })) >= 1);
  t.equal(await h.count(), 2);
  // A receipt makes room: seal and receipt the two readings.
  const pending = await h.spool.unsealed(10, 1 << 20);
  await h.spool.storeBlock({
    seq: 1,
    prev: new Uint8Array(32),
    hash: new Uint8Array(32).fill(1),
    bytes: Uint8Array.of(1),
    sealedAt: 1,
    count: pending.length,
    lastReadingId: pending.at(-1)!.id,
    salts: new Uint8Array(16 * pending.length),
  });
  await h.spool.storeReceipt(1, Uint8Array.of(1), Date.now());
  await within(10_000, 'the resent reading is acknowledged', third);
  t.equal(await h.count(), 3, 'the device resent it after reconnecting');
});

t.test('disk full: no PUBACK, nothing lost; acknowledged once space is back', async (t) => {
  const h = await deviceBroker(t);
  const c = await h.connect('ox-1', { reconnectPeriod: 50 });
  c.on('error', () => {});
  await c.publishAsync(obs('ox-1'), Buffer.from(readingBytes('ox-1', 1)), { qos: 1 });
  // SQLite's own quota: the database may not grow by a single page (SQLITE_FULL).
  const pages = await h.spool.db.get<{ page_count: number }>('PRAGMA page_count');
  await h.spool.db.get(`PRAGMA max_page_count = ${pages!.page_count}`);
  // Fill the remaining free space so that the next insert needs a new page.
  let filler = 0;
  for (;;) {
    try {
      await h.spool.insertBatch([
        { deviceId: 'filler', seq: ++filler, receivedAt: 1, bytes: readingBytes('filler', filler) },
      ]);
    } catch (err) {
      t.equal((err as { code?: string }).code, 'STORE_DISK_FULL');
      break;
    }
  }
  let acked = false;
  const big = Buffer.from(readingBytes('ox-1', 2));
  const second = c.publishAsync(obs('ox-1'), big, { qos: 1 }).then(() => {
    acked = true;
  });
  await onceWithin(c, 'close');
  t.notOk(acked, 'no PUBACK for a reading that could not be stored');
  t.ok((await metricValue(h.metrics.rejected, { reason: 'store-error' })) >= 1);
  await h.spool.db.get('PRAGMA max_page_count = 1073741823');
  await within(10_000, 'acknowledged after the resend', second);
  t.equal(
    (
      await h.spool.db.get<{ n: number }>(
        "SELECT count(*) AS n FROM readings WHERE device_id = 'ox-1'",
      )
    )?.n,
    2,
  );
});

t.test('a device clock beyond the skew is flagged and counted, the reading kept', async (t) => {
  const h = await deviceBroker(t, { limits: { maxClockSkewMs: 60_000 } });
  const c = await h.connect('ox-1');
  const late = {
    deviceId: 'ox-1',
    seq: 1,
    time: Date.now() - 3_600_000,
    patient: 'MRN-1',
    obs: [{ code: 'MDC_PULS_OXIM_SAT_O2', value: '97', unit: '%' }],
  };
  await c.publishAsync(obs('ox-1'), Buffer.from(JSON.stringify(late)), { qos: 1 });
  t.equal(await h.count(), 1, 'kept');
  t.equal(await metricValue(h.metrics.skewed), 1, 'counted, never corrected');
});

t.test('QoS 2 and QoS 0 readings take the same path (stored once)', async (t) => {
  const h = await deviceBroker(t);
  const c = await h.connect('ox-1');
  await c.publishAsync(obs('ox-1'), Buffer.from(readingBytes('ox-1', 1)), { qos: 2 });
  t.equal(await h.count(), 1, 'QoS 2: stored before PUBREC');
  await c.publishAsync(obs('ox-1'), Buffer.from(readingBytes('ox-1', 1)), { qos: 2 });
  t.equal(await h.count(), 1, 'a second QoS 2 message with the same (device, seq) is a duplicate');
  await c.publishAsync(obs('ox-1'), Buffer.from(readingBytes('ox-1', 2)), { qos: 0 });
  await c.publishAsync(obs('ox-1'), Buffer.from(readingBytes('ox-1', 3)), { qos: 1 });
  t.equal(await h.count(), 3, 'QoS 0 stored too (no acknowledgement, so no promise)');
});

t.test('a connection that never sends CONNECT is closed after connectTimeout', async (t) => {
  const h = await deviceBroker(t, { connectTimeoutMs: 200 });
  const sock = tcpConnect(h.broker.port, '127.0.0.1');
  await onceWithin(sock, 'connect');
  const t0 = Date.now();
  await onceWithin(sock, 'close', 30_000);
  t.ok(Date.now() - t0 >= 150, 'closed by the broker, not at once');
});
