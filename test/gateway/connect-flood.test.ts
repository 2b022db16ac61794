/**
 * A flood of CONNECTs with wrong secrets (from other loopback addresses) must not lock
 * a real device out: it connects and its readings are acknowledged during the flood,
 * the flooding addresses are backed off, and they may try again once the back-off ends.
 * Latency figures under 100 and 1,000 bad CONNECTs are measured by `npm run soak`.
 */
import t from 'tap';
import { deviceBroker } from './broker-harness.js';
import { metricValue, rawConnack, readingBytes, until, within } from './helpers.js';

const obs = (id: string) => `med/v1/dev/${id}/obs`;

/** `total` bad CONNECTs, `parallel` at a time, spread over the given source addresses. */
async function flood(port: number, total: number, parallel: number, sources: string[]) {
  let next = 0;
  const answers = new Map<string, number>();
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const r = await rawConnack(
        port,
        { clientId: `bad-${i}`, clean: true, username: `bad-${i % 50}`, password: `wrong-${i}` },
        sources[i % sources.length],
      );
      answers.set(String(r), (answers.get(String(r)) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return answers;
}

t.test('a CONNECT flood: the real device connects and is acknowledged throughout', async (t) => {
  const h = await deviceBroker(t, {
    authLimits: { failuresPerAddress: 5, backoffMs: 300, maxBackoffMs: 1000 },
  });
  const sources = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
  const flooding = flood(h.broker.port, 400, 100, sources);
  // The real device, from 127.0.0.1, during the flood: connects, publishes, is acknowledged.
  const c = await within(30_000, 'the real device CONNACK', h.connect('ox-1'));
  for (let seq = 1; seq <= 20; seq++) {
    await within(
      30_000,
      `PUBACK ${seq}`,
      c.publishAsync(obs('ox-1'), Buffer.from(readingBytes('ox-1', seq)), { qos: 1 }),
    );
  }
  const answers = await flooding;
  t.equal(await h.count(), 20, 'every reading of the real device stored');
  t.equal(answers.get('0') ?? 0, 0, 'no bad CONNECT was accepted');
  t.ok((answers.get('4') ?? 0) > 0, 'bad credentials answered with CONNACK 4');
  t.ok(
    (await metricValue(h.metrics.connectRefused, { reason: 'bad-credentials' })) > 0,
    'counted as bad-credentials',
  );
  t.ok(
    (await metricValue(h.metrics.connectRefused, { reason: 'rate-limited' })) > 0,
    'the flooding addresses were backed off',
  );
  // Recovery: once the back-off ends, the same address may authenticate again.
  await until(
    '127.0.0.2 no longer backed off',
    () => h.broker.limiter.blockedFor('127.0.0.2') === 0,
  );
  const again = await rawConnack(
    h.broker.port,
    { clientId: 'ox-2', clean: true, username: 'ox-2', password: h.secrets['ox-2']! },
    '127.0.0.2',
  );
  t.equal(again, 0, 'a device behind the flooding address connects after the back-off');
});

t.test('maxConnections counts connections that have not logged in', async (t) => {
  const h = await deviceBroker(t, { maxConnections: 5, connectTimeoutMs: 30_000 });
  const { connect } = await import('node:net');
  const idle = Array.from({ length: 5 }, () =>
    connect({ port: h.broker.port, host: '127.0.0.1', localAddress: '127.0.0.2' }),
  );
  t.teardown(() => {
    for (const s of idle) s.destroy();
  });
  await until('5 open connections', () => h.broker.openConnections === 5);
  const refused = await rawConnack(h.broker.port, {
    clientId: 'ox-1',
    clean: true,
    username: 'ox-1',
    password: h.secrets['ox-1']!,
  });
  t.equal(refused, 'closed', 'a sixth connection is closed before CONNECT is read');
  t.equal(await metricValue(h.metrics.connectRefused, { reason: 'max-connections' }), 1);
  for (const s of idle) s.destroy();
  await until('the idle sockets are gone', () => h.broker.openConnections === 0);
  const c = await h.connect('ox-1');
  t.ok(c.connected, 'room again once they closed');
});
