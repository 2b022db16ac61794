import { createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { encodeEntry } from '../../core/entry.js';
import { signReceipt } from '../../core/receipt.js';
import { softwareSigner } from '../../core/signer.js';
import { loadConfig } from '../../gateway/config.js';
import { FrameScanner } from '../../gateway/frame-limit.js';
import { checkReceipt } from '../../gateway/receipt-check.js';
import { RejectLog } from '../../gateway/reject-log.js';
import { createLogger } from '../../ops/log.js';
import { TEST_KEY_A, TEST_KEY_B } from '../helpers/test-keys.js';
import { tempDir } from './helpers.js';

t.test('RejectLog: one line per device per interval, with the count suppressed', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _e, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const rl = new RejectLog(createLogger({ name: 't', destination: sink }), 1000);
  for (let i = 0; i < 100; i++)
    rl.warn('bad:ox-1', { device: 'ox-1' }, 'reading rejected', 5000 + i);
  rl.warn('bad:ox-2', { device: 'ox-2' }, 'reading rejected', 5050);
  t.equal(lines.length, 2, 'a flood is two lines, one per device');
  rl.warn('bad:ox-1', { device: 'ox-1' }, 'reading rejected', 6001);
  t.equal(lines.length, 3);
  t.match(lines[2], /"suppressed":99/);
});

t.test('FrameScanner: refuses at the fixed header, across chunk boundaries', async (t) => {
  const s = new FrameScanner(100);
  // CONNECT of 10 bytes then PINGREQ, split at awkward places: accepted.
  const ok = Buffer.concat([Buffer.from([0x10, 10]), Buffer.alloc(10), Buffer.from([0xc0, 0])]);
  for (let i = 0; i < ok.length; i++) s.scan(ok.subarray(i, i + 1));
  t.pass('small packets pass byte by byte');
  // PUBLISH announcing 200 bytes (0xc8 0x01), the length split over two chunks.
  s.scan(Buffer.from([0x30, 0xc8]));
  t.throws(() => s.scan(Buffer.from([0x01])), /exceeds the/);
  const s2 = new FrameScanner(1 << 20);
  t.throws(() => s2.scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])), /exceeds the/);
  const s3 = new FrameScanner(Number.MAX_SAFE_INTEGER);
  t.throws(() => s3.scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), /malformed/);
});

t.test('checkReceipt names the failed check', async (t) => {
  const notary = softwareSigner(TEST_KEY_A, Uint8Array.of(1, 2, 3));
  const other = softwareSigner(TEST_KEY_B, Uint8Array.of(1, 2, 3));
  const key = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: Buffer.from(notary.publicKey.subarray(1, 33)).toString('base64url'),
      y: Buffer.from(notary.publicKey.subarray(33)).toString('base64url'),
    },
    format: 'jwk',
  });
  const block = new Uint8Array(32).fill(5);
  const entry = (internal: Uint8Array, submitter: string) =>
    encodeEntry({ height: 1, prev: new Uint8Array(32), internal, submitter, registeredAt: 1 });
  const x = {
    notaryKey: key,
    notaryKid: notary.kid,
    notaryId: 'n-1',
    gatewayId: 'gw-1',
    blockHash: block,
  };
  const root = new Uint8Array(32);
  const good = await signReceipt(notary, 'n-1', entry(block, 'gw-1'), root);
  t.ok(checkReceipt(good, x).ok);
  const cases: [string, Uint8Array][] = [
    ['signature', await signReceipt(other, 'n-1', entry(block, 'gw-1'), root)],
    ['notary-id', await signReceipt(notary, 'n-2', entry(block, 'gw-1'), root)],
    ['internal', await signReceipt(notary, 'n-1', entry(new Uint8Array(32), 'gw-1'), root)],
    ['submitter', await signReceipt(notary, 'n-1', entry(block, 'gw-2'), root)],
  ];
  for (const [check, bytes] of cases) {
    const r = checkReceipt(bytes, x);
    t.equal(r.ok ? 'ok' : r.check, check);
  }
  const flipped = good.slice();
  flipped[flipped.length - 1]! ^= 1;
  const r = checkReceipt(flipped, x);
  t.equal(r.ok ? 'ok' : r.check, 'signature', 'one flipped bit');
});

t.test('config: defaults, relative paths, env overrides, clear errors', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'gw.json');
  const base = {
    gatewayId: 'gw-1',
    db: 'gw.db',
    certificate: 'gw.pem',
    root: '/etc/medchain/root.pem',
    hsm: { token: 'clinic', key: 'gw' },
    readers: [{ kid: 'r1', publicKey: 'r1.pem' }],
    notary: { id: 'n-1', url: 'mqtts://notary:8883', certificate: 'n.pem' },
  };
  writeFileSync(file, JSON.stringify(base));
  const c = loadConfig(file, {});
  t.equal(c.db, join(dir, 'gw.db'));
  t.equal(c.root, '/etc/medchain/root.pem');
  t.equal(c.devices.port, 1883);
  t.equal(c.batch.maxReadings, 1000);
  t.equal(c.http.host, '127.0.0.1');
  const o = loadConfig(file, {
    MEDCHAIN_GATEWAY_DEVICES_PORT: '2883',
    MEDCHAIN_GATEWAY_BATCH_MAX_DELAY_MS: '250',
    MEDCHAIN_GATEWAY_NOTARY_URL: 'mqtt://127.0.0.1:1884',
    OTHER: 'ignored',
  });
  t.equal(o.devices.port, 2883);
  t.equal(o.batch.maxDelayMs, 250);
  t.equal(o.notary.url, 'mqtt://127.0.0.1:1884');
  t.equal(c.devices.ws, undefined, 'no WebSocket listener unless configured');
  writeFileSync(
    file,
    JSON.stringify({
      ...base,
      devices: { ws: { port: 8083, tls: { cert: 'ws.pem', key: 'ws.key' } } },
    }),
  );
  const w = loadConfig(file, {
    MEDCHAIN_GATEWAY_DEVICES_WS_HOST: '0.0.0.0',
    MEDCHAIN_GATEWAY_DEVICES_WS_PORT: '9083',
  });
  t.same(
    w.devices.ws,
    {
      host: '0.0.0.0',
      port: 9083,
      path: '/mqtt',
      tls: { cert: join(dir, 'ws.pem'), key: join(dir, 'ws.key'), deviceCertificates: false },
    },
    'WebSocket listener: defaults, env overrides, paths relative to the config',
  );
  writeFileSync(file, JSON.stringify({ ...base, devices: { ws: { port: 1, path: 'mqtt' } } }));
  t.throws(() => loadConfig(file, {}), { code: 'GATEWAY_CONFIG', message: /devices\.ws\.path/ });
  writeFileSync(file, JSON.stringify({ ...base, batch: { maxReadings: 0 } }));
  t.throws(() => loadConfig(file, {}), { code: 'GATEWAY_CONFIG', message: /batch\.maxReadings/ });
  const ext = { url: 'mqtt://127.0.0.1:1883' };
  writeFileSync(file, JSON.stringify({ ...base, devices: { external: ext } }));
  t.equal(
    loadConfig(file, { MEDCHAIN_GATEWAY_DEVICES_EXTERNAL_SHARE_GROUP: 'site-1' }).devices.external
      ?.shareGroup,
    'site-1',
    'share group from the environment',
  );
  writeFileSync(
    file,
    JSON.stringify({ ...base, devices: { external: { ...ext, shareGroup: 'a/+' } } }),
  );
  t.throws(() => loadConfig(file, {}), {
    code: 'GATEWAY_CONFIG',
    message: /devices\.external\.shareGroup/,
  });
  writeFileSync(file, JSON.stringify({ ...base, typo: 1 }));
  t.throws(() => loadConfig(file, {}), { code: 'GATEWAY_CONFIG', message: /typo/ });
  writeFileSync(file, '{');
  t.throws(() => loadConfig(file, {}), { code: 'GATEWAY_CONFIG', message: /JSON/ });
});

t.test('registry: scrypt hashes, wrong and unknown secrets, CONNECT floods queue', async (t) => {
  const { Spool } = await import('../../gateway/spool.js');
  const { DeviceRegistry } = await import('../../gateway/registry.js');
  const { FAST_SCRYPT } = await import('./helpers.js');
  const spool = await Spool.open(join(tempDir(t), 'reg.db'));
  t.teardown(() => spool.close());
  const reg = new DeviceRegistry(spool.db, FAST_SCRYPT, 2);
  const secret = await reg.add('ox-1');
  const row = await spool.db.get<{ hash: Uint8Array }>('SELECT hash FROM devices');
  t.notMatch(Buffer.from(row!.hash).toString('utf8'), secret, 'only the hash is stored');
  const enc = (s: string) => Buffer.from(s);
  const results = await Promise.all([
    reg.verify('ox-1', enc(secret)),
    reg.verify('ox-1', enc(`${secret}x`)),
    reg.verify('nobody', enc(secret)),
    reg.verify('ox-1', undefined),
    ...Array.from({ length: 20 }, () => reg.verify('ox-1', enc(secret))),
  ]);
  t.same(results.slice(0, 4), [true, false, false, false]);
  t.ok(results.slice(4).every(Boolean), '20 concurrent checks, two at a time, all answered');
  await t.rejects(reg.add('ox-1'), { code: 'GATEWAY_DEVICE' });
  await t.rejects(reg.add('__proto__'), { code: 'GATEWAY_DEVICE' });
  await t.rejects(reg.add('ox-2', 'short'), { code: 'GATEWAY_DEVICE' });
  t.equal(await reg.remove('ox-1'), true);
  t.equal(await reg.verify('ox-1', enc(secret)), false, 'removed: refused');
});
