/**
 * Devices over MQTT-over-WebSocket (ws:// and wss://): the same aedes, so the same
 * authentication, ACL, limits and "PUBACK only after COMMIT" as over TCP.
 */
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import t from 'tap';
import WebSocket from 'ws';
import { DeviceBroker } from '../../gateway/device-broker.js';
import { Intake } from '../../gateway/intake.js';
import { gatewayMetrics } from '../../gateway/metrics.js';
import { DeviceRegistry } from '../../gateway/registry.js';
import { Spool } from '../../gateway/spool.js';
import { deviceBroker } from './broker-harness.js';
import {
  FAST_SCRYPT,
  jsonReading,
  localServerCert,
  metricValue,
  onceWithin,
  readingBytes,
  tempDir,
} from './helpers.js';

const obs = (id: string) => `med/v1/dev/${id}/obs`;

t.test('ws://: readings are spooled before the PUBACK; bad auth refused', async (t) => {
  const h = await deviceBroker(t, { ws: true, maxPacketBytes: 4096 });
  t.ok(h.broker.wsPort, 'the WebSocket listener has a port');
  const url = `ws://127.0.0.1:${h.broker.wsPort}/mqtt`;
  const c = await mqtt.connectAsync(url, {
    protocolVersion: 4,
    clientId: 'ox-1',
    username: 'ox-1',
    password: h.secrets['ox-1']!,
    clean: false,
    reconnectPeriod: 0,
  });
  t.teardown(() => c.end(true));
  for (let seq = 1; seq <= 20; seq++) {
    await c.publishAsync(obs('ox-1'), Buffer.from(readingBytes('ox-1', seq)), { qos: 1 });
    // The PUBACK came back over the WebSocket: the row is committed.
    t.equal(await h.count(), seq, `reading ${seq} committed before its PUBACK`);
  }
  await c.publishAsync(obs('ox-1'), Buffer.from(jsonReading('ox-1', 21)), { qos: 1 });
  t.equal(await h.count(), 21, 'JSON readings too');
  t.equal(await metricValue(h.metrics.accepted), 21);

  await t.rejects(
    mqtt.connectAsync(url, {
      protocolVersion: 4,
      clientId: 'ox-2',
      username: 'ox-2',
      password: 'wrong-secret-000000',
      reconnectPeriod: 0,
    }),
    { code: 4 },
    'wrong secret: CONNACK 4 over WebSocket',
  );
  await t.rejects(
    mqtt.connectAsync(url, {
      protocolVersion: 4,
      clientId: 'ox-1',
      username: 'ox-2',
      password: h.secrets['ox-2']!,
      reconnectPeriod: 0,
    }),
    { code: 2 },
    "another device's client id: CONNACK 2",
  );
  t.equal(await metricValue(h.metrics.connectRefused, { reason: 'bad-credentials' }), 1);

  // The ACL: publishing as another device closes the connection, nothing stored.
  const other = await mqtt.connectAsync(url, {
    protocolVersion: 4,
    clientId: 'ox-2',
    username: 'ox-2',
    password: h.secrets['ox-2']!,
    reconnectPeriod: 0,
  });
  const closed = onceWithin(other, 'close');
  other.publish(obs('ox-1'), Buffer.from(readingBytes('ox-1', 99)), { qos: 1 });
  await closed;
  t.equal(await metricValue(h.metrics.aclDenied, { action: 'publish' }), 1);
  t.equal(await h.count(), 21, 'nothing stored from the foreign topic');
  t.equal(await metricValue(h.metrics.aclDenied, { action: 'subscribe' }), 0);
  const granted = await c.subscribeAsync('#', { qos: 1 }).then(
    (g) => g[0]?.qos,
    (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0],
  );
  t.equal(granted, 128, '# refused to a WebSocket device as well');

  // The packet limit applies to WebSocket frames as to TCP.
  const big = await mqtt.connectAsync(url, {
    protocolVersion: 4,
    clientId: 'ox-2',
    username: 'ox-2',
    password: h.secrets['ox-2']!,
    reconnectPeriod: 0,
  });
  const bigClosed = onceWithin(big, 'close');
  big.publish(obs('ox-2'), Buffer.alloc(10_000, 0x41), { qos: 1 });
  await bigClosed;
  t.equal(await metricValue(h.metrics.rejected, { reason: 'packet-too-large' }), 1);
  await c.publishAsync(obs('ox-1'), Buffer.from(readingBytes('ox-1', 22)), { qos: 1 });
  t.equal(await h.count(), 22, 'the first device is still served');
});

t.test('ws://: other paths and non-MQTT subprotocols are refused at the upgrade', async (t) => {
  const h = await deviceBroker(t, { ws: true });
  const refusal = (url: string, protocol: string) =>
    new Promise<string>((resolve) => {
      const ws = new WebSocket(url, protocol);
      ws.on('open', () => {
        ws.close();
        resolve('open');
      });
      ws.on('error', (err) => resolve(err.message));
    });
  t.match(
    await refusal(`ws://127.0.0.1:${h.broker.wsPort}/other`, 'mqtt'),
    /Unexpected server response: 400/,
  );
  t.match(
    await refusal(`ws://127.0.0.1:${h.broker.wsPort}/mqtt`, 'chat'),
    /Server sent no subprotocol|Unexpected server response/,
  );
  t.equal(await h.count(), 0);
});

t.test('wss://: MQTT over WebSocket over TLS, same authentication', async (t) => {
  const dir = tempDir(t);
  const { cert, key } = localServerCert(dir);
  const spool = await Spool.open(join(dir, 'gw.db'));
  const registry = new DeviceRegistry(spool.db, FAST_SCRYPT);
  const secret = await registry.add('ox-1');
  const intake = new Intake(spool, { maxBacklogReadings: 100, maxBacklogBytes: 1 << 20 });
  const metrics = gatewayMetrics();
  const broker = await DeviceBroker.start({
    host: '127.0.0.1',
    port: 0,
    ws: {
      host: '127.0.0.1',
      port: 0,
      tls: { options: { cert, key } },
    },
    registry,
    intake,
    metrics,
    log: pino({ level: 'silent' }),
  });
  t.teardown(async () => {
    await broker.close();
    await intake.close();
    await spool.close();
  });
  const url = `wss://127.0.0.1:${broker.wsPort}/mqtt`;
  const c = await mqtt.connectAsync(url, {
    protocolVersion: 4,
    clientId: 'ox-1',
    username: 'ox-1',
    password: secret,
    ca: cert,
    rejectUnauthorized: true,
    reconnectPeriod: 0,
  });
  t.teardown(() => c.end(true));
  await c.publishAsync(obs('ox-1'), Buffer.from(readingBytes('ox-1', 1)), { qos: 1 });
  const row = await spool.db.get<{ n: number }>('SELECT count(*) AS n FROM readings');
  t.equal(row?.n, 1, 'stored before the PUBACK, over wss');
  await t.rejects(
    mqtt.connectAsync(url, {
      protocolVersion: 4,
      clientId: 'ox-1',
      username: 'ox-1',
      password: 'wrong-secret-000000',
      ca: cert,
      reconnectPeriod: 0,
    }),
    { code: 4 },
    'wrong secret refused over wss',
  );
  t.equal(await metricValue(metrics.connectRefused, { reason: 'bad-credentials' }), 1);
});
