import { createHash, verify } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { ChildSigner, type ChildSignerOptions } from '../../hsm/child-signer.js';
import { HsmCode, HsmError } from '../../hsm/errors.js';
import { Token } from '../../hsm/token.js';
import { softHsmFixture, USER_PIN } from '../helpers/softhsm.js';

softHsmFixture(t, ['tok-c']);
const setup = Token.open({ label: 'tok-c', pin: USER_PIN });
setup.generateKey('gw');
setup.close();

const digest = (i: number) => createHash('sha256').update(`reading ${i}`).digest();

function verifies(signer: ChildSigner, i: number, sig: Uint8Array): boolean {
  return verify(
    'sha256',
    Buffer.from(`reading ${i}`),
    { key: signer.publicKey('gw').keyObject, dsaEncoding: 'ieee-p1363' },
    sig,
  );
}

async function start(
  t: { teardown(fn: () => unknown): void },
  extra: Partial<ChildSignerOptions> = {},
) {
  const signer = await ChildSigner.start({ token: 'tok-c', pin: USER_PIN, keys: ['gw'], ...extra });
  t.teardown(() => signer.close());
  return signer;
}

t.test('200 concurrent signs all verify while the event loop keeps ticking', async (t) => {
  const signer = await start(t);
  let ticks = 0;
  let ticking = true;
  const tick = () => {
    ticks += 1;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const sigs = await Promise.all(
    Array.from({ length: 200 }, (_, i) => signer.signDigest('gw', digest(i))),
  );
  ticking = false;
  t.equal(sigs.length, 200);
  t.ok(
    sigs.every((s, i) => verifies(signer, i, s)),
    'every signature verifies',
  );
  // In-process synchronous C_Sign would give zero turns of the loop during the batch.
  t.ok(ticks > 20, `the event loop turned ${ticks} times during the signs`);
});

t.test('the PIN is not in the child process argv or environment', async (t) => {
  const signer = await start(t);
  const pid = signer.pid;
  t.ok(pid);
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
  t.notMatch(cmdline, USER_PIN);
  t.notMatch(environ, USER_PIN);
});

t.test('wrong PIN fails start with the typed error', async (t) => {
  await t.rejects(ChildSigner.start({ token: 'tok-c', pin: '99999999', keys: ['gw'] }), {
    code: HsmCode.PinIncorrect,
  });
  await t.rejects(ChildSigner.start({ token: 'tok-c', pin: USER_PIN, keys: ['no-such-key'] }), {
    code: HsmCode.KeyNotFound,
  });
});

t.test('a crash of the child loses no request: it restarts and retries', async (t) => {
  const signer = await start(t);
  const firstPid = signer.pid;
  const crashed = once(signer, 'crash');
  const restarted = once(signer, 'restart');
  const work = Promise.all(
    Array.from({ length: 100 }, (_, i) => signer.signDigest('gw', digest(i))),
  );
  process.kill(firstPid ?? 0, 'SIGKILL');
  const [crash] = (await crashed) as [{ signal: string; inFlight: number }];
  t.equal(crash.signal, 'SIGKILL');
  t.ok(crash.inFlight > 0, `${crash.inFlight} requests were at the child when it died`);
  const sigs = await work;
  await restarted;
  t.ok(
    sigs.every((s, i) => verifies(signer, i, s)),
    'all 100 signatures verify after the restart',
  );
  t.equal(signer.restarts, 1);
  t.not(signer.pid, firstPid, 'a new child process');
});

t.test('after maxAttempts crashes a request fails with HSM_SIGNER_CRASHED', async (t) => {
  const signer = await start(t, { maxAttempts: 1 });
  const outcomes = Promise.allSettled(
    Array.from({ length: 50 }, (_, i) => signer.signDigest('gw', digest(i))),
  );
  process.kill(signer.pid ?? 0, 'SIGKILL');
  const settled = await outcomes;
  const crashedOnes = settled.filter(
    (o) =>
      o.status === 'rejected' &&
      o.reason instanceof HsmError &&
      o.reason.code === HsmCode.SignerCrashed,
  );
  t.ok(crashedOnes.length > 0, `${crashedOnes.length} requests failed with HSM_SIGNER_CRASHED`);
  t.ok(
    settled.every((o, i) =>
      o.status === 'fulfilled' ? verifies(signer, i, o.value) : crashedOnes.includes(o),
    ),
    'every other request has a valid signature',
  );
  await once(signer, 'restart');
  t.ok(verifies(signer, 7, await signer.signDigest('gw', digest(7))), 'the restarted signer signs');
});

t.test('a frozen token times out with HSM_SIGNER_TIMEOUT and the child is replaced', async (t) => {
  const signer = await start(t, { timeoutMs: 300 });
  const frozen = signer.pid ?? 0;
  process.kill(frozen, 'SIGSTOP');
  await t.rejects(signer.signDigest('gw', digest(1)), { code: HsmCode.SignerTimeout });
  await once(signer, 'restart');
  t.not(signer.pid, frozen);
  t.ok(verifies(signer, 2, await signer.signDigest('gw', digest(2))));
});

t.test('bad input and use after close are typed errors', async (t) => {
  const signer = await start(t);
  await t.rejects(signer.signDigest('gw', new Uint8Array(31)), { code: HsmCode.BadInput });
  await t.rejects(signer.signDigest('other', digest(1)), { code: HsmCode.KeyNotFound });
  t.throws(() => signer.publicKey('other'), { code: HsmCode.KeyNotFound });
  await signer.close();
  await t.rejects(signer.signDigest('gw', digest(1)), { code: HsmCode.Closed });
});
