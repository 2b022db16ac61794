import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import t from 'tap';
import { fromPkcs11, HsmCode } from '../../hsm/errors.js';
import { acquireModule, findToken } from '../../hsm/module.js';
import { readPin } from '../../hsm/pin.js';
import { initToken } from '../../hsm/softhsm.js';
import { Token } from '../../hsm/token.js';
import { SO_PIN, softHsmFixture, USER_PIN } from '../helpers/softhsm.js';

const sandbox = softHsmFixture(t, ['tok-e']);

t.test('wrong PIN is HSM_PIN_INCORRECT and says what to check', async (t) => {
  const err = t.throws(() => Token.open({ label: 'tok-e', pin: '00000000' }), {
    code: HsmCode.PinIncorrect,
    ckr: 'CKR_PIN_INCORRECT',
  });
  t.match(String((err as Error | undefined)?.message), /MEDCHAIN_HSM_PIN/);
  t.notMatch(String((err as Error | undefined)?.message), /00000000/, 'the PIN is not echoed');
  const ok = Token.open({ label: 'tok-e', pin: USER_PIN });
  ok.close();
});

t.test('missing module path is HSM_MODULE_NOT_FOUND', async (t) => {
  t.throws(
    () => Token.open({ label: 'tok-e', pin: USER_PIN, modulePath: '/nonexistent/libpkcs11.so' }),
    {
      code: HsmCode.ModuleNotFound,
    },
  );
  const notALibrary = join(sandbox.dir, 'not-a-library.so');
  writeFileSync(notALibrary, 'plain text');
  t.throws(() => Token.open({ label: 'tok-e', pin: USER_PIN, modulePath: notALibrary }), {
    code: HsmCode.ModuleNotFound,
  });
});

t.test('unknown token is HSM_TOKEN_NOT_FOUND naming the tokens present', async (t) => {
  const err = t.throws(() => Token.open({ label: 'no-such-token', pin: USER_PIN }), {
    code: HsmCode.TokenNotFound,
  });
  t.match(String((err as Error | undefined)?.message), /'tok-e'/);
});

t.test('initialising an existing label is refused, never overwritten', async (t) => {
  t.throws(() => initToken({ label: 'tok-e', soPin: SO_PIN, userPin: USER_PIN }), {
    code: HsmCode.TokenExists,
  });
  t.throws(() => initToken({ label: 'x'.repeat(33), soPin: SO_PIN, userPin: USER_PIN }), {
    code: HsmCode.BadInput,
  });
});

t.test('a session closed under us is HSM_SESSION_CLOSED', async (t) => {
  const token = Token.open({ label: 'tok-e', pin: USER_PIN });
  t.teardown(() => token.close());
  token.generateKey('k');
  const m = acquireModule();
  t.teardown(() => m.release());
  m.p11.C_CloseAllSessions(findToken(m.p11, 'tok-e', m.path).slot);
  t.throws(() => token.signDigestSync('k', new Uint8Array(32)), { code: HsmCode.SessionClosed });
  await t.rejects(token.signDigest('k', new Uint8Array(32)), { code: HsmCode.SessionClosed });
});

t.test('a mechanism the token lacks is HSM_MECHANISM_UNSUPPORTED', async (t) => {
  const token = Token.open({ label: 'tok-e', pin: USER_PIN });
  t.teardown(() => token.close());
  token.generateKey('mech');
  const m = acquireModule();
  t.teardown(() => m.release());
  const slot = findToken(m.p11, 'tok-e', m.path).slot;
  const s = m.p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
  t.teardown(() => m.p11.C_CloseSession(s));
  m.p11.C_FindObjectsInit(s, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
    { type: pkcs11js.CKA_LABEL, value: 'mech' },
  ]);
  const key = m.p11.C_FindObjects(s);
  m.p11.C_FindObjectsFinal(s);
  if (!key) return t.fail('key not found');
  // SoftHSM2 2.6.1 has no CKM_ECDSA_SHA256 (why we hash in Node): a real refusal to map.
  let thrown: unknown;
  try {
    m.p11.C_SignInit(s, { mechanism: pkcs11js.CKM_ECDSA_SHA256 }, key);
  } catch (err) {
    thrown = err;
  }
  const mapped = fromPkcs11(thrown, 'signing');
  t.equal(mapped.ckr, 'CKR_MECHANISM_INVALID');
  t.equal(mapped.code, HsmCode.MechanismUnsupported);
  t.match(mapped.message, /does not support the mechanism/);
});

t.test('a locked PIN maps to HSM_PIN_LOCKED with what to do', async (t) => {
  // SoftHSM2 has no retry counter, so the token cannot be driven into this state;
  // the mapping is checked with pkcs11js's own error for CKR_PIN_LOCKED (0xA4).
  const err = fromPkcs11(
    new pkcs11js.Pkcs11Error('CKR_PIN_LOCKED:164', 164, 'C_Login'),
    'opening token',
  );
  t.equal(err.code, HsmCode.PinLocked);
  t.match(err.message, /security officer/);
});

t.test('PINs come from a file or the environment, never argv', async (t) => {
  const file = join(sandbox.dir, 'pin');
  writeFileSync(file, `${USER_PIN}\n`);
  t.equal(readPin({ file, env: 'UNSET_FOR_TEST', what: 'user PIN' }), USER_PIN, 'newline stripped');
  t.throws(() => readPin({ env: 'MEDCHAIN_TEST_UNSET_PIN', what: 'user PIN' }), {
    code: HsmCode.PinMissing,
  });
  t.throws(() => readPin({ file: join(sandbox.dir, 'absent'), env: 'X', what: 'user PIN' }), {
    code: HsmCode.PinMissing,
  });
  writeFileSync(file, '12');
  t.throws(() => readPin({ file, env: 'X', what: 'user PIN' }), { code: HsmCode.BadInput });
});
