import t from 'tap';
import { AuthLimiter, addressKey } from '../../ops/auth-limiter.js';
import { BoundedQueue } from '../../ops/bounded-queue.js';

t.test('addresses: IPv4 as is, IPv4-mapped as IPv4, IPv6 by /64', async (t) => {
  t.equal(addressKey('127.0.0.2'), '127.0.0.2');
  t.equal(addressKey('::ffff:10.1.2.3'), '10.1.2.3');
  t.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  t.equal(addressKey('2001:db8:1:2::9'), '2001:db8:1:2::/64');
  t.equal(addressKey('::1'), '0:0:0:0::/64');
  t.equal(addressKey(undefined), 'unknown');
});

t.test('per-address back-off doubles; others are untouched; success clears', async (t) => {
  let now = 1_000_000;
  const l = new AuthLimiter({
    failuresPerAddress: 3,
    backoffMs: 1000,
    maxBackoffMs: 4000,
    globalFailuresPerSecond: 1000,
    now: () => now,
  });
  for (let i = 0; i < 2; i++) l.failed('10.0.0.1');
  t.equal(l.blockedFor('10.0.0.1'), 0, 'below the limit');
  l.failed('10.0.0.1');
  t.equal(l.blockedFor('10.0.0.1'), 1000, 'first back-off');
  t.equal(l.blockedFor('10.0.0.2'), 0, 'another address is not affected');
  t.equal(l.backedOff(), 1);
  now += 1000;
  t.equal(l.blockedFor('10.0.0.1'), 0, 'back-off over');
  for (let i = 0; i < 3; i++) l.failed('10.0.0.1');
  t.equal(l.blockedFor('10.0.0.1'), 2000, 'doubled');
  now += 2000;
  for (let i = 0; i < 3; i++) l.failed('10.0.0.1');
  now += 4000;
  for (let i = 0; i < 3; i++) l.failed('10.0.0.1');
  t.equal(l.blockedFor('10.0.0.1'), 4000, 'capped at maxBackoffMs');
  now += 4000;
  l.succeeded('10.0.0.1');
  l.failed('10.0.0.1');
  l.failed('10.0.0.1');
  t.equal(l.blockedFor('10.0.0.1'), 0, 'a success forgot the earlier offences');
});

t.test('global budget: a storm backs off every address that failed lately', async (t) => {
  let now = 5_000_000;
  const l = new AuthLimiter({
    failuresPerAddress: 100,
    globalFailuresPerSecond: 10,
    now: () => now,
  });
  for (let i = 0; i < 10; i++) l.failed(`10.0.1.${i}`);
  t.notOk(l.storm, 'within the budget');
  l.failed('10.0.1.200');
  t.ok(l.storm, 'over the budget');
  t.ok(l.blockedFor('10.0.1.3') > 0, 'a failing address waits during the storm');
  t.equal(l.blockedFor('10.0.9.9'), 0, 'an address without failures does not');
  now += 1001;
  t.notOk(l.storm, 'the storm ends a second after the last excess failure');
  t.equal(l.blockedFor('10.0.1.3'), 0);
});

t.test('tracked addresses are bounded', async (t) => {
  const l = new AuthLimiter({ maxAddresses: 100, globalFailuresPerSecond: 1e9 });
  for (let i = 0; i < 1000; i++) l.failed(`10.1.${i >> 8}.${i & 255}`);
  t.ok(l.backedOff() <= 100);
});

t.test('bounded queue: concurrency, waiting bound, cancellation', async (t) => {
  const q = new BoundedQueue(1, 1);
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const a = q.run(() => gate.then(() => 'a'));
  const b = q.run(async () => 'b');
  await t.rejects(
    q.run(async () => 'c'),
    { code: 'AUTH_QUEUE_FULL' },
  );
  t.ok(q.saturated);
  release();
  t.same(await Promise.all([a, b]), ['a', 'b']);
  t.equal(q.running, 0);
  const ac = new AbortController();
  ac.abort();
  await t.rejects(
    q.run(async () => 1, ac.signal),
    { code: 'AUTH_QUEUE_ABORTED' },
  );
  t.throws(() => new BoundedQueue(0, 1));
});
