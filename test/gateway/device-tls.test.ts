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
import { FAST_SCRYPT, localServerCert, metricValue, readingBytes, tempDir } from './helpers.js';

t.test('devices over TLS: the same auth and spool, on the TLS listener', async (t) => {
  const dir = tempDir(t);
  const { cert, key } = localServerCert(dir);
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
      options: { cert, key },
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

t.test('devices with a Trent client certificate need no secret; others are refused', async (t) => {
  const { p256 } = await import('@noble/curves/nist.js');
  const { createPrivateKey, createPublicKey } = await import('node:crypto');
  const { createCsr } = await import('../../ca/csr.js');
  const { pki } = await import('./pki.js');
  const p = await pki(t);
  const dir = tempDir(t);
  const { cert: serverCert, key } = localServerCert(dir);
  // A device key in software (a real device keeps it in its secure element).
  const d = p256.utils.randomSecretKey();
  const pub = p256.getPublicKey(d, false);
  const jwk = {
    kty: 'EC',
    crv: 'P-256',
    x: Buffer.from(pub.subarray(1, 33)).toString('base64url'),
    y: Buffer.from(pub.subarray(33)).toString('base64url'),
  };
  const spki = createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'spki' });
  const keyPem = createPrivateKey({
    key: { ...jwk, d: Buffer.from(d).toString('base64url') },
    format: 'jwk',
  }).export({ format: 'pem', type: 'pkcs8' }) as string;
  const csr = await createCsr({
    signer: { signDigest: async (_label, digest) => p256.sign(digest, d, { prehash: false }) },
    keyLabel: 'device',
    spki,
    role: 'device',
    id: 'ecg-7',
  });
  const devCert = (await p.ca.issue({ role: 'device', id: 'ecg-7', csr })).certificate.toString(
    'pem',
  );

  const spool = await Spool.open(join(dir, 'gw.db'));
  const metrics = gatewayMetrics();
  const intake = new Intake(spool, { maxBacklogReadings: 100, maxBacklogBytes: 1 << 20 });
  const broker = await DeviceBroker.start({
    host: '127.0.0.1',
    port: 0,
    tls: {
      host: '127.0.0.1',
      port: 0,
      options: { cert: serverCert, key },
      clientCertificates: { root: p.rootPem },
    },
    registry: new DeviceRegistry(spool.db, FAST_SCRYPT),
    intake,
    metrics,
    log: pino({ level: 'silent' }),
  });
  t.teardown(async () => {
    await broker.close();
    await intake.close();
    await spool.close();
  });
  const url = `mqtts://127.0.0.1:${broker.tlsPort}`;
  const c = await mqtt.connectAsync(url, {
    protocolVersion: 4,
    clientId: 'ecg-7',
    ca: serverCert,
    cert: devCert,
    key: keyPem,
    reconnectPeriod: 0,
  });
  t.teardown(() => c.end(true));
  await c.publishAsync('med/v1/dev/ecg-7/obs', Buffer.from(readingBytes('ecg-7', 1)), { qos: 1 });
  const row = await spool.db.get<{ n: number }>(
    "SELECT count(*) AS n FROM readings WHERE device_id = 'ecg-7'",
  );
  t.equal(row?.n, 1, 'authenticated by its certificate, stored');
  const code = (cert: string, key: string, clientId: string) =>
    mqtt
      .connectAsync(url, {
        protocolVersion: 4,
        clientId,
        ca: serverCert,
        cert,
        key,
        reconnectPeriod: 0,
      })
      .then(
        (x) => {
          x.end(true);
          return 0;
        },
        (err: { code?: number | string }) => err.code,
      );
  // Trent's certificate for another role on the same key: not a device.
  const readerCert = (await p.ca.issue({ role: 'reader', id: 'ecg-7r', readerSpki: spki }))
    .certificate;
  t.equal(
    await code(readerCert.toString('pem'), keyPem, 'ecg-7r'),
    5,
    'wrong role: not authorized',
  );
  // A certificate from another CA.
  t.equal(await code(serverCert, key, 'ecg-7'), 5, 'foreign issuer: not authorized');
  t.equal(await metricValue(metrics.connectRefused, { reason: 'bad-certificate' }), 2);
  t.equal(
    await code(devCert, keyPem, 'ox-1'),
    2,
    'a device certificate cannot take another client id',
  );
});

t.test(
  'a device certificate Trent revoked is refused at CONNECT; others keep working',
  async (t) => {
    const { p256 } = await import('@noble/curves/nist.js');
    const { createPrivateKey, createPublicKey } = await import('node:crypto');
    const { writeFileSync } = await import('node:fs');
    const { createCsr } = await import('../../ca/csr.js');
    const { createCrl, crlPem } = await import('../../ca/crl.js');
    const { crlFile } = await import('../../gateway/crl-file.js');
    const { pki } = await import('./pki.js');
    const p = await pki(t);
    const dir = tempDir(t);
    const { cert: serverCert, key } = localServerCert(dir);
    /** A device key in software and its certificate from Trent. */
    const device = async (id: string) => {
      const d = p256.utils.randomSecretKey();
      const pub = p256.getPublicKey(d, false);
      const jwk = {
        kty: 'EC',
        crv: 'P-256',
        x: Buffer.from(pub.subarray(1, 33)).toString('base64url'),
        y: Buffer.from(pub.subarray(33)).toString('base64url'),
      };
      const spki = createPublicKey({ key: jwk, format: 'jwk' }).export({
        format: 'der',
        type: 'spki',
      });
      const key = createPrivateKey({
        key: { ...jwk, d: Buffer.from(d).toString('base64url') },
        format: 'jwk',
      }).export({ format: 'pem', type: 'pkcs8' }) as string;
      const csr = await createCsr({
        signer: { signDigest: async (_label, digest) => p256.sign(digest, d, { prehash: false }) },
        keyLabel: 'device',
        spki,
        role: 'device',
        id,
      });
      const issued = await p.ca.issue({ role: 'device', id, csr });
      return { cert: issued.certificate.toString('pem'), key, serial: issued.record.serial };
    };
    const good = await device('ecg-1');
    const bad = await device('ecg-2');
    // The CRL file Trent publishes; the broker looks at it again at each certificate CONNECT.
    const crlPath = join(dir, 'crl.pem');
    writeFileSync(crlPath, `${crlPem(await createCrl(p.ca))}\n`);
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const spool = await Spool.open(join(dir, 'gw.db'));
    const metrics = gatewayMetrics();
    const intake = new Intake(spool, { maxBacklogReadings: 100, maxBacklogBytes: 1 << 20 });
    const broker = await DeviceBroker.start({
      host: '127.0.0.1',
      port: 0,
      tls: {
        host: '127.0.0.1',
        port: 0,
        options: { cert: serverCert, key },
        clientCertificates: {
          root: p.rootPem,
          crl: crlFile(crlPath, readFileSync(crlPath, 'utf8'), log),
        },
      },
      registry: new DeviceRegistry(spool.db, FAST_SCRYPT),
      intake,
      metrics,
      log,
    });
    const clients: mqtt.MqttClient[] = [];
    t.teardown(async () => {
      for (const c of clients) c.end(true);
      await broker.close();
      await intake.close();
      await spool.close();
    });
    const url = `mqtts://127.0.0.1:${broker.tlsPort}`;
    const connect = async (who: { cert: string; key: string }, clientId: string) => {
      const c = await mqtt.connectAsync(url, {
        protocolVersion: 4,
        clientId,
        ca: serverCert,
        cert: who.cert,
        key: who.key,
        reconnectPeriod: 0,
      });
      clients.push(c);
      return c;
    };
    const stored = async (id: string) =>
      (
        await spool.db.get<{ n: number }>(
          'SELECT count(*) AS n FROM readings WHERE device_id = ?',
          [id],
        )
      )?.n ?? 0;
    const first = await connect(good, 'ecg-1');
    const before = await connect(bad, 'ecg-2');
    await before.publishAsync('med/v1/dev/ecg-2/obs', Buffer.from(readingBytes('ecg-2', 1)), {
      qos: 1,
    });
    t.equal(await stored('ecg-2'), 1, 'accepted while its certificate was good');
    before.end(true);

    await p.ca.revoke(bad.serial, 'keyCompromise');
    writeFileSync(crlPath, `${crlPem(await createCrl(p.ca))}\n`);

    await t.rejects(connect(bad, 'ecg-2'), { code: 5 }, 'revoked: CONNACK 5 (not authorized)');
    t.equal(await metricValue(metrics.connectRefused, { reason: 'revoked-certificate' }), 1);
    t.equal(await metricValue(metrics.connectRefused, { reason: 'bad-certificate' }), 0);
    const refusal = lines
      .map(
        (l) =>
          JSON.parse(l) as { msg: string; reason?: string; detail?: string; clientId?: string },
      )
      .find((l) => l.msg === 'device certificate refused');
    t.equal(refusal?.reason, 'revoked', 'the refusal is logged with its reason');
    t.equal(refusal?.clientId, 'ecg-2');
    t.match(refusal?.detail, /revoked/);
    t.ok(
      lines.some((l) => l.includes('CRL re-read')),
      'the new CRL was picked up without a restart',
    );

    // The valid device keeps working, on its open connection and on a new one.
    await first.publishAsync('med/v1/dev/ecg-1/obs', Buffer.from(readingBytes('ecg-1', 1)), {
      qos: 1,
    });
    const again = await connect(good, 'ecg-1');
    await again.publishAsync('med/v1/dev/ecg-1/obs', Buffer.from(readingBytes('ecg-1', 2)), {
      qos: 1,
    });
    t.equal(await stored('ecg-1'), 2, 'the valid device is still accepted');
    t.equal(await stored('ecg-2'), 1, 'nothing more from the revoked one');
  },
);
