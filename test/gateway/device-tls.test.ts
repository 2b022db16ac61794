import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import t from 'tap';
import { DeviceBroker } from '../../gateway/device-broker.js';
import { Intake } from '../../gateway/intake.js';
import { gatewayMetrics } from '../../gateway/metrics.js';
import { DeviceRegistry } from '../../gateway/registry.js';
import { Spool } from '../../gateway/spool.js';
import { FAST_SCRYPT, readingBytes, tempDir } from './helpers.js';

t.test('devices over TLS: the same auth and spool, on the TLS listener', async (t) => {
  const dir = tempDir(t);
  // A throwaway server certificate for 127.0.0.1 (openssl as an outside tool).
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'key.pem',
      '-out',
      'cert.pem',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { cwd: dir, stdio: 'ignore' },
  );
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  const spool = await Spool.open(join(dir, 'gw.db'));
  const registry = new DeviceRegistry(spool.db, FAST_SCRYPT);
  const secret = await registry.add('ox-1');
  const intake = new Intake(spool, { maxBacklogReadings: 100, maxBacklogBytes: 1 << 20 });
  const broker = await DeviceBroker.start({
    host: '127.0.0.1',
    port: 0,
    tls: {
      host: '127.0.0.1',
      port: 0,
      options: { cert, key: readFileSync(join(dir, 'key.pem'), 'utf8') },
    },
    registry,
    intake,
    metrics: gatewayMetrics(),
    log: pino({ level: 'silent' }),
  });
  t.teardown(async () => {
    await broker.close();
    await intake.close();
    await spool.close();
  });
  const c = await mqtt.connectAsync(`mqtts://127.0.0.1:${broker.tlsPort}`, {
    protocolVersion: 4,
    clientId: 'ox-1',
    username: 'ox-1',
    password: secret,
    ca: cert,
    rejectUnauthorized: true,
    reconnectPeriod: 0,
  });
  t.teardown(() => c.end(true));
  await c.publishAsync('med/v1/dev/ox-1/obs', Buffer.from(readingBytes('ox-1', 1)), { qos: 1 });
  const row = await spool.db.get<{ n: number }>('SELECT count(*) AS n FROM readings');
  t.equal(row?.n, 1, 'stored before the PUBACK, over TLS');
  await t.rejects(
    mqtt.connectAsync(`mqtts://127.0.0.1:${broker.tlsPort}`, {
      protocolVersion: 4,
      clientId: 'ox-1',
      username: 'ox-1',
      password: 'wrong-secret-000000',
      ca: cert,
      reconnectPeriod: 0,
    }),
    { code: 4 },
    'wrong secret refused over TLS too',
  );
});
