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

t.test(
  'registry: generated secrets by HMAC, chosen ones by scrypt, wrong and unknown refused',
  async (t) => {
    const { Spool } = await import('../../gateway/spool.js');
    const { DeviceRegistry, newSecret } = await import('../../gateway/registry.js');
    const { FAST_SCRYPT } = await import('./helpers.js');
    const spool = await Spool.open(join(tempDir(t), 'reg.db'));
    t.teardown(() => spool.close());
    const reg = new DeviceRegistry(spool.db, FAST_SCRYPT, 2);
    const secret = await reg.add('ox-1');
    const chosen = await reg.add('ox-2', 'correct horse battery staple');
    const made = newSecret();
    t.equal(await reg.add('ox-9', made, 'generated'), made, 'a caller-generated secret');
    const rows = await spool.db.all<{ id: string; hash: Uint8Array; params: string }>(
      'SELECT id, hash, params FROM devices ORDER BY id',
    );
    t.notMatch(Buffer.from(rows[0]!.hash).toString('utf8'), secret, 'only the hash is stored');
    t.same(JSON.parse(rows[0]!.params), { alg: 'hmac-sha256' }, 'a generated secret: HMAC');
    t.match(JSON.parse(rows[1]!.params), { alg: 'scrypt', origin: 'chosen', N: 1024 });
    t.same(JSON.parse(rows[2]!.params), { alg: 'hmac-sha256' }, 'generated by the caller: HMAC');
    t.equal(await reg.verify('ox-9', Buffer.from(made)), true);
    const enc = (s: string) => Buffer.from(s);
    const results = await Promise.all([
      reg.verify('ox-1', enc(secret)),
      reg.verify('ox-1', enc(`${secret}x`)),
      reg.verify('nobody', enc(secret)),
      reg.verify('ox-1', undefined),
      reg.verify('ox-2', enc(chosen)),
      reg.verify('ox-2', enc(`${chosen}!`)),
      ...Array.from({ length: 20 }, () => reg.verify('ox-1', enc(secret))),
    ]);
    t.same(results.slice(0, 6), [true, false, false, false, true, false]);
    t.ok(results.slice(6).every(Boolean), '20 concurrent checks all answered');
    t.equal(reg.slowQueue.running, 0, 'the HMAC path never takes the scrypt queue');
    await t.rejects(reg.add('ox-1'), { code: 'GATEWAY_DEVICE' });
    await t.rejects(reg.add('__proto__'), { code: 'GATEWAY_DEVICE' });
    await t.rejects(reg.add('ox-3', 'short'), { code: 'GATEWAY_DEVICE' });
    t.equal(await reg.remove('ox-1'), true);
    t.equal(await reg.verify('ox-1', enc(secret)), false, 'removed: refused');
  },
);

t.test(
  'registry: scrypt checks are bounded, refused when full, dropped when cancelled',
  async (t) => {
    const { Spool } = await import('../../gateway/spool.js');
    const { DeviceRegistry } = await import('../../gateway/registry.js');
    const spool = await Spool.open(join(tempDir(t), 'reg.db'));
    t.teardown(() => spool.close());
    // Costly enough that the checks overlap (N=2^14: 16 MiB, some ms each).
    const reg = new DeviceRegistry(spool.db, { N: 1 << 14, r: 8, p: 1, keyLen: 32 }, 1, 2);
    const pw = 'a chosen secret of some length';
    await reg.add('ox-1', pw);
    const enc = Buffer.from(pw);
    const ac = new AbortController();
    const first = reg.verify('ox-1', enc);
    const second = reg.verify('ox-1', enc, { signal: ac.signal });
    const third = reg.verify('ox-1', enc);
    await t.rejects(
      reg.verify('ox-1', enc),
      { code: 'AUTH_QUEUE_FULL' },
      'past 1 running + 2 waiting',
    );
    t.ok(reg.slowQueue.saturated);
    ac.abort();
    await t.rejects(
      second,
      { code: 'AUTH_QUEUE_ABORTED' },
      'its connection closed while it waited',
    );
    t.same(await Promise.all([first, third]), [true, true]);
    t.equal(reg.slowQueue.cancelled, 1);
    await t.rejects(reg.verify('ox-1', enc, { refuseSlow: true }), { code: 'AUTH_QUEUE_FULL' });
  },
);

t.test(
  'registry: a legacy scrypt record of a generated secret becomes HMAC on its first CONNECT',
  async (t) => {
    const { Spool } = await import('../../gateway/spool.js');
    const { DeviceRegistry, newSecret } = await import('../../gateway/registry.js');
    const { scryptSync, randomBytes } = await import('node:crypto');
    const spool = await Spool.open(join(tempDir(t), 'reg.db'));
    t.teardown(() => spool.close());
    const params = { N: 1024, r: 8, p: 1, keyLen: 32 };
    // Rows as the registry wrote them before generated and chosen secrets were told apart.
    const legacy = async (id: string, secret: string) => {
      const salt = randomBytes(16);
      const hash = scryptSync(secret, salt, 32, { N: 1024, r: 8, p: 1 });
      await spool.db.run(
        'INSERT INTO devices (id, salt, hash, params, created_at) VALUES (?, ?, ?, ?, ?)',
        [id, salt, hash, JSON.stringify(params), 1],
      );
    };
    const generated = newSecret();
    await legacy('ox-1', generated);
    await legacy('ox-2', 'an operator chose this one');
    const reg = new DeviceRegistry(spool.db, params);
    t.equal(await reg.verify('ox-1', Buffer.from('x'.repeat(43))), false, 'wrong: no upgrade');
    t.equal(await reg.verify('ox-1', Buffer.from(generated)), true);
    t.equal(await reg.verify('ox-2', Buffer.from('an operator chose this one')), true);
    const rows = await spool.db.all<{ params: string }>('SELECT params FROM devices ORDER BY id');
    t.same(JSON.parse(rows[0]!.params), { alg: 'hmac-sha256' }, 'generated form: upgraded');
    t.same(JSON.parse(rows[1]!.params), params, 'any other secret keeps scrypt');
    t.equal(reg.upgraded, 1);
    t.equal(await reg.verify('ox-1', Buffer.from(generated)), true, 'still accepted after');
    t.equal(reg.slowQueue.running, 0);
  },
);
