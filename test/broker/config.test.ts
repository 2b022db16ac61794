import t from 'tap';
import { parseNotaryConfig } from '../../broker/config.js';

const good = {
  notaryId: 'notary-1',
  db: 'chain.db',
  token: { label: 'notary', pinFile: 'pin.txt' },
  signingCert: 'notary-1.sign.pem',
  tls: { key: 'notary-1.tls.key', cert: 'notary-1.tls.pem' },
  trust: { root: 'root.pem' },
  mqtt: { port: 8883 },
};

t.test('defaults, relative paths and environment overrides', async (t) => {
  const c = parseNotaryConfig(JSON.stringify(good), '/etc/medchain', {
    MEDCHAIN_NOTARY_MQTT_PORT: '9999',
    MEDCHAIN_NOTARY_DB: '/var/lib/n.db',
  });
  t.equal(c.mqtt.port, 9999);
  t.equal(c.mqtt.host, '127.0.0.1');
  t.equal(c.db, '/var/lib/n.db');
  t.equal(c.signingCert, '/etc/medchain/notary-1.sign.pem');
  t.equal(c.token.pinFile, '/etc/medchain/pin.txt');
  t.same(c.submitRoles, ['gateway']);
  t.same(c.checkpoint, { everyEntries: 1000, everyMs: 10_000 });
  t.equal(c.http, undefined, 'no HTTP API unless configured');
});

t.test('a bad config names every bad field', async (t) => {
  const bad = { ...good, notaryId: 'Not An Id', mqtt: { port: 70000 }, extra: 1, trust: {} };
  t.throws(() => parseNotaryConfig(JSON.stringify(bad), '/'), {
    code: 'NOTARY_CONFIG',
    message: /notaryId[\s\S]*trust\.root[\s\S]*mqtt\.port|extra/,
  });
  try {
    parseNotaryConfig(JSON.stringify(bad), '/');
  } catch (err) {
    const m = (err as Error).message;
    for (const f of ['notaryId', 'trust.root', 'mqtt.port', 'extra']) t.match(m, f, `names ${f}`);
  }
  t.throws(() => parseNotaryConfig('{not json', '/'), {
    code: 'NOTARY_CONFIG',
    message: /not JSON/,
  });
  t.throws(
    () =>
      parseNotaryConfig(
        JSON.stringify({ ...good, upstream: { url: 'http://x', notaryId: 'r' } }),
        '/',
      ),
    { message: /upstream\.url/ },
  );
});
