/**
 * Who may see the gateway console (gateway/console-access.ts), over real HTTP from a
 * loopback and a non-loopback address of this host, against a real spool: loopback
 * clients by default, others only with the bearer token; a refused request learns
 * nothing. The devices page lists devices and times, never a reading's content.
 * The pages in a real browser against a running gateway: test/e2e/console-browser.test.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { consoleAccess, GatewayConsole } from '../../gateway/console.js';
import type { ConsoleAccess } from '../../gateway/console-access.js';
import { isLoopback } from '../../gateway/console-access.js';
import { GatewayError } from '../../gateway/errors.js';
import { OpsHttp } from '../../gateway/http.js';
import { gatewayMetrics } from '../../gateway/metrics.js';
import { DeviceRegistry } from '../../gateway/registry.js';
import { Spool } from '../../gateway/spool.js';
import { FAST_SCRYPT, readingBytes, tempDir } from './helpers.js';

const dir = tempDir(t);
const spool = await Spool.open(join(dir, 'gw.db'));
t.teardown(() => spool.close());
await new DeviceRegistry(spool.db, FAST_SCRYPT).add('ox-7');
await new DeviceRegistry(spool.db, FAST_SCRYPT).add('ecg-2');
const now = Date.now();
await spool.insertBatch(
  [1, 2, 3].map((seq) => ({
    deviceId: 'ox-7',
    seq,
    receivedAt: now - 60_000 + seq,
    bytes: readingBytes('ox-7', seq),
  })),
);
const metrics = gatewayMetrics();
const TOKEN = 'c0nsole-t0ken-for-the-clinic-admin';
/** A non-loopback IPv4 address of this host, to be a client that is not local. */
const outside = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

async function serve(access: ConsoleAccess): Promise<number> {
  const http = await OpsHttp.start({
    host: '0.0.0.0',
    port: 0,
    registry: metrics.registry,
    refresh: async () => {},
    health: async () => ({ ok: true, detail: {} }),
    ready: async () => ({ ok: true, detail: {} }),
    console: new GatewayConsole({
      gatewayId: 'gw-1',
      access,
      metrics,
      status: () => Promise.reject(new Error('the status page is not asked for here')),
      devices: (limit) => spool.deviceActivity(limit),
      certificates: [],
      crl: () => undefined,
    }),
  });
  t.teardown(() => http.close());
  return http.port;
}

/** medchain_gateway_console_errors_total{code} now. */
async function errors(code: string): Promise<number> {
  const m = metrics.registry.getSingleMetric('medchain_gateway_console_errors_total');
  return (await m?.get())?.values.find((x) => x.labels.code === code)?.value ?? 0;
}

const get = async (host: string, port: number, path: string, token?: string) => {
  const r = await fetch(`http://${host}:${port}${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: r.status, text: await r.text(), auth: r.headers.get('www-authenticate') };
};

t.test('loopback by default: devices with their last reading, never its content', async (t) => {
  const port = await serve({ loopback: true, token: undefined });
  const r = await get('127.0.0.1', port, '/console/devices');
  t.equal(r.status, 200);
  t.match(r.text, /<td>ox-7<\/td><td>[^<]+<\/td><td>3<\/td><td>/, 'ox-7, last seq 3');
  t.match(r.text, new RegExp(new Date(now - 60_000 + 3).toISOString()), 'its last reading time');
  t.match(r.text, /<td>ecg-2<\/td>/, 'a registered device that never sent');
  t.notMatch(r.text, /MRN-000123/, 'no patient id, no reading content');
  t.equal((await get('127.0.0.1', port, '/console/nope')).status, 404);
});

t.test(
  'a client that is not local is refused without a token configured',
  { skip: outside ? false : 'no non-loopback IPv4 address on this host' },
  async (t) => {
    const port = await serve({ loopback: true, token: undefined });
    const before = await errors('CONSOLE_FORBIDDEN');
    const r = await get(outside!, port, '/console/devices');
    t.equal(r.status, 403);
    t.match(r.text, /loopback only/);
    t.notMatch(r.text, /ox-7/, 'nothing of the console leaks');
    t.equal(
      (await get(outside!, port, '/console/devices', TOKEN)).status,
      403,
      'a token means nothing when none is configured',
    );
    t.equal(
      (await get(outside!, port, '/metrics')).status,
      200,
      '/metrics stays open to the scraper',
    );
    t.equal(await errors('CONSOLE_FORBIDDEN'), before + 2, 'each refusal counted by code');
  },
);

t.test('with a token: loopback off, only the right bearer token is admitted', async (t) => {
  const port = await serve({ loopback: false, token: TOKEN });
  const before = await errors('CONSOLE_UNAUTHORIZED');
  const none = await get('127.0.0.1', port, '/console/devices');
  t.equal(none.status, 401);
  t.equal(none.auth, 'Bearer realm="medchain-gateway-console"');
  t.notMatch(none.text, /ox-7/);
  t.equal(
    (await get('127.0.0.1', port, '/console/devices', `${TOKEN}x`)).status,
    401,
    'wrong token',
  );
  t.equal(
    (await get('127.0.0.1', port, '/console/devices', TOKEN.slice(0, -1))).status,
    401,
    'a prefix',
  );
  t.equal(await errors('CONSOLE_UNAUTHORIZED'), before + 3, 'each refusal counted by code');
  const ok = await get('127.0.0.1', port, '/console/devices', TOKEN);
  t.equal(ok.status, 200);
  t.match(ok.text, /ox-7/);
  if (outside)
    t.equal(
      (await get(outside, port, '/console/devices', TOKEN)).status,
      200,
      'from elsewhere too',
    );
});

t.test('the token file is checked at start', async (t) => {
  const read = (p: string) => readFileSync(p, 'utf8');
  const short = join(dir, 'short.token');
  writeFileSync(short, 'abc\n');
  t.throws(() => consoleAccess({ loopback: true, tokenFile: short }, read), GatewayError);
  const spaced = join(dir, 'spaced.token');
  writeFileSync(spaced, 'a token with spaces in it\n');
  t.throws(() => consoleAccess({ loopback: true, tokenFile: spaced }, read), GatewayError);
  const good = join(dir, 'good.token');
  writeFileSync(good, `${TOKEN}\n`);
  t.same(consoleAccess({ loopback: false, tokenFile: good }, read), {
    loopback: false,
    token: TOKEN,
  });
});

t.test('what counts as loopback', async (t) => {
  for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) t.ok(isLoopback(a), a);
  for (const a of ['192.0.2.2', '::ffff:192.0.2.2', '10.0.0.1', 'fd00::2', '', undefined])
    t.notOk(isLoopback(a), String(a));
});
