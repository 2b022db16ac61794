/**
 * The gateway behind a real Mosquitto (the apt package): it subscribes with a
 * persistent session and acknowledges each reading only once spooled.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import t from 'tap';
import { ExternalDeviceBroker } from '../../gateway/external-broker.js';
import { Intake } from '../../gateway/intake.js';
import { gatewayMetrics } from '../../gateway/metrics.js';
import { Spool } from '../../gateway/spool.js';
import { jsonReading, metricValue, readingBytes, until } from './helpers.js';
import { mosquitto } from './mosquitto.js';

const haveMosquitto = !spawnSync('mosquitto', ['-h']).error;

t.test(
  'readings through Mosquitto: spooled before PUBACK, dedup, gaps, rejections',
  {
    skip: haveMosquitto || process.env.CI ? false : 'mosquitto is not installed (apt: mosquitto)',
  },
  async (t) => {
    const { dir, port } = await mosquitto(t);
    const spool = await Spool.open(join(dir, 'gw.db'));
    const metrics = gatewayMetrics();
    const intake = new Intake(spool, { maxBacklogReadings: 1e6, maxBacklogBytes: 1 << 30 });
    const ext = new ExternalDeviceBroker({
      url: `mqtt://127.0.0.1:${port}`,
      clientId: 'medchain-gateway-gw-1',
      intake,
      metrics,
      log: pino({ level: process.env.DBG ? 'debug' : 'silent' }),
    });
    t.teardown(async () => {
      await ext.close();
      await intake.close();
      await spool.close();
    });
    await until('gateway subscribed', () => ext.connected);
    const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 4,
      clientId: 'ox-1',
      clean: false,
      reconnectPeriod: 0,
    });
    t.teardown(() => dev.end(true));
    // The subscription is in place once a probe reading comes through.
    await until('probe stored', async () => {
      await dev.publishAsync('med/v1/dev/ox-1/obs', Buffer.from(readingBytes('ox-1', 1)), {
        qos: 1,
      });
      return (await metricValue(metrics.accepted)) === 1;
    });
    await dev.publishAsync('med/v1/dev/ox-1/obs', Buffer.from(readingBytes('ox-1', 2)), { qos: 1 });
    await dev.publishAsync('med/v1/dev/ox-1/obs', Buffer.from(jsonReading('ox-1', 6)), { qos: 1 });
    await dev.publishAsync('med/v1/dev/ox-1/obs', Buffer.from('{"deviceId":'), { qos: 1 });
    await dev.publishAsync('med/v1/dev/ox-1/obs', Buffer.from(readingBytes('ox-2', 9)), { qos: 1 });
    await until(
      'all processed',
      async () =>
        (await metricValue(metrics.accepted)) === 3 &&
        (await metricValue(metrics.rejected, { reason: 'device-id-mismatch' })) === 1,
    );
    t.equal(await metricValue(metrics.gaps), 3, 'seq 3, 4, 5 missing: counted');
    t.equal(await metricValue(metrics.rejected, { reason: 'malformed-json' }), 1);
    const n = await spool.db.get<{ n: number }>('SELECT count(*) AS n FROM readings');
    t.equal(n?.n, 3);
    t.ok((await metricValue(metrics.duplicates)) >= 0, 'probe resends, if any, were deduplicated');
  },
);

t.test(
  'several subscriber connections on a shared subscription: group commit, each reading once',
  { skip: haveMosquitto || process.env.CI ? false : 'mosquitto is not installed (apt: mosquitto)' },
  async (t) => {
    const { dir, port } = await mosquitto(t);
    const spool = await Spool.open(join(dir, 'gw.db'));
    const metrics = gatewayMetrics();
    const intake = new Intake(spool, { maxBacklogReadings: 1e6, maxBacklogBytes: 1 << 30 });
    let transactions = 0;
    intake.onCommit = () => transactions++;
    const ext = new ExternalDeviceBroker({
      url: `mqtt://127.0.0.1:${port}`,
      clientId: 'medchain-gateway-gw-3',
      subscribers: 4,
      intake,
      metrics,
      log: pino({ level: process.env.DBG ? 'debug' : 'silent' }),
    });
    t.teardown(async () => {
      await ext.close();
      await intake.close();
      await spool.close();
    });
    await until('all four members subscribed', () => ext.subscribed);
    const PER_DEVICE = 100;
    const devices = ['ox-1', 'ox-2', 'ox-3'];
    const clients = await Promise.all(
      devices.map((id) =>
        mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
          protocolVersion: 4,
          clientId: id,
          reconnectPeriod: 0,
        }),
      ),
    );
    t.teardown(() => {
      for (const c of clients) c.end(true);
    });
    await Promise.all(
      clients.map((c, d) =>
        Promise.all(
          Array.from({ length: PER_DEVICE }, (_, i) =>
            c.publishAsync(
              `med/v1/dev/${devices[d]}/obs`,
              Buffer.from(readingBytes(devices[d]!, i + 1)),
              { qos: 1 },
            ),
          ),
        ),
      ),
    );
    const total = devices.length * PER_DEVICE;
    await until(
      'every reading stored',
      async () => (await metricValue(metrics.accepted)) === total,
      30_000,
    );
    const rows = await spool.db.all<{ device_id: string; n: number; lo: number; hi: number }>(
      'SELECT device_id, count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM readings GROUP BY device_id ORDER BY device_id',
    );
    t.same(
      rows,
      devices.map((device_id) => ({ device_id, n: PER_DEVICE, lo: 1, hi: PER_DEVICE })),
      'each reading stored exactly once',
    );
    t.ok(transactions < total, `${total} readings in ${transactions} transactions`);
    t.equal(
      (await metricValue(metrics.gaps)) - (await metricValue(metrics.lateReadings)),
      0,
      'no reading missing (gaps counted across members are filled by late ones)',
    );
  },
);

for (const subscribers of [1, 3]) {
  t.test(
    `through Mosquitto (${subscribers} subscriber connections): no PUBACK to the broker above the limit; redelivered and stored later`,
    {
      skip: haveMosquitto || process.env.CI ? false : 'mosquitto is not installed (apt: mosquitto)',
    },
    async (t) => {
      const { dir, port } = await mosquitto(t);
      const spool = await Spool.open(join(dir, 'gw.db'));
      const metrics = gatewayMetrics();
      const intake = new Intake(spool, { maxBacklogReadings: 2, maxBacklogBytes: 1 << 30 });
      const ext = new ExternalDeviceBroker({
        url: `mqtt://127.0.0.1:${port}`,
        clientId: 'medchain-gateway-gw-2',
        subscribers,
        intake,
        metrics,
        log: pino({ level: 'silent' }),
        retryMs: 100,
      });
      t.teardown(async () => {
        await ext.close();
        await intake.close();
        await spool.close();
      });
      await until('gateway subscribed', () => ext.connected);
      const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
        protocolVersion: 4,
        clientId: 'ox-1',
        clean: false,
        reconnectPeriod: 0,
      });
      t.teardown(() => dev.end(true));
      await until('first reading stored', async () => {
        await dev.publishAsync('med/v1/dev/ox-1/obs', Buffer.from(readingBytes('ox-1', 1)), {
          qos: 1,
        });
        return (await metricValue(metrics.accepted)) === 1;
      });
      for (const seq of [2, 3]) {
        await dev.publishAsync('med/v1/dev/ox-1/obs', Buffer.from(readingBytes('ox-1', seq)), {
          qos: 1,
        });
      }
      await until(
        'refused at the limit',
        async () => (await metricValue(metrics.rejected, { reason: 'pushback' })) >= 1,
      );
      const stored = async () =>
        (await spool.db.get<{ n: number }>('SELECT count(*) AS n FROM readings'))?.n ?? 0;
      // The refusal can come while reading 2's group commit is still running (it counts
      // toward the backlog already): wait for that commit, then nothing more is stored.
      await until('the two readings under the limit stored', async () => (await stored()) === 2);
      t.equal(await stored(), 2);
      const pending = await spool.unsealed(10, 1 << 20);
      await spool.storeBlock({
        seq: 1,
        prev: new Uint8Array(32),
        hash: new Uint8Array(32).fill(1),
        bytes: Uint8Array.of(1),
        sealedAt: 1,
        count: pending.length,
        lastReadingId: pending.at(-1)!.id,
        salts: new Uint8Array(16 * pending.length),
      });
      await spool.storeReceipt(1, Uint8Array.of(1), Date.now());
      await until('redelivered by Mosquitto and stored', async () => (await stored()) === 3);
      t.pass('the held-back reading was not lost');
    },
  );
}
