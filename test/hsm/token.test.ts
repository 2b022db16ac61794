import { createHash, diffieHellman, generateKeyPairSync, verify } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import t from 'tap';
import { HsmCode, HsmError } from '../../hsm/errors.js';
import { acquireModule, findToken } from '../../hsm/module.js';
import { Token } from '../../hsm/token.js';
import { softHsmFixture, USER_PIN } from '../helpers/softhsm.js';

softHsmFixture(t, ['tok-a']);

const digestOf = (s: string) => createHash('sha256').update(s).digest();

function rawPoint(jwk: { x?: string; y?: string }): Uint8Array {
  return Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x ?? '', 'base64url'),
    Buffer.from(jwk.y ?? '', 'base64url'),
  ]);
}

t.test('a signature made on the token verifies with node:crypto', async (t) => {
  const token = Token.open({ label: 'tok-a', pin: USER_PIN });
  t.teardown(() => token.close());
  const info = token.generateKey('sig1');
  t.same(info.usage, ['sign']);
  for (const msg of ['hello', 'reading 42']) {
    const sync = token.signDigestSync('sig1', digestOf(msg));
    const async = await token.signDigest('sig1', digestOf(msg));
    for (const sig of [sync, async]) {
      t.equal(sig.length, 64, 'raw r||s');
      t.ok(
        verify(
          'sha256',
          Buffer.from(msg),
          { key: info.publicKey.keyObject, dsaEncoding: 'ieee-p1363' },
          sig,
        ),
        `signature over '${msg}' verifies`,
      );
      t.notOk(
        verify(
          'sha256',
          Buffer.from(`${msg}!`),
          { key: info.publicKey.keyObject, dsaEncoding: 'ieee-p1363' },
          sig,
        ),
        'and not over other bytes',
      );
    }
  }
  const spkiKey = info.publicKey.keyObject.export({ format: 'der', type: 'spki' });
  t.same(Buffer.from(info.publicKey.spki), spkiKey, 'SPKI export round-trips');
  t.equal(info.publicKey.jwk.crv, 'P-256');
});

t.test('the private key cannot be read from the token', async (t) => {
  const token = Token.open({ label: 'tok-a', pin: USER_PIN });
  t.teardown(() => token.close());
  const info = token.generateKey('secret1');
  t.equal(info.onToken, true);
  t.equal(info.sensitive, true);
  t.equal(info.extractable, false);
  t.equal(info.alwaysSensitive, true);
  t.equal(info.neverExtractable, true);

  // Ask PKCS#11 directly, past our API, for the private value.
  const m = acquireModule();
  t.teardown(() => m.release());
  const slot = findToken(m.p11, 'tok-a', m.path).slot;
  const s = m.p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
  t.teardown(() => m.p11.C_CloseSession(s));
  m.p11.C_FindObjectsInit(s, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
    { type: pkcs11js.CKA_LABEL, value: 'secret1' },
  ]);
  const handle = m.p11.C_FindObjects(s);
  m.p11.C_FindObjectsFinal(s);
  t.ok(handle, 'the private key object exists (the token is logged in)');
  if (!handle) return;
  t.throws(
    () => m.p11.C_GetAttributeValue(s, handle, [{ type: pkcs11js.CKA_VALUE }]),
    /CKR_ATTRIBUTE_SENSITIVE/,
  );
  t.throws(
    () => m.p11.C_SetAttributeValue(s, handle, [{ type: pkcs11js.CKA_EXTRACTABLE, value: true }]),
    /CKR_/,
    'and it cannot be made extractable',
  );
});

t.test('keys survive closing and reopening the module', async (t) => {
  const first = Token.open({ label: 'tok-a', pin: USER_PIN });
  const spki = Buffer.from(first.generateKey('durable').publicKey.spki);
  first.close();
  const again = Token.open({ label: 'tok-a', pin: USER_PIN });
  t.teardown(() => again.close());
  t.ok(again.listKeys().includes('durable'));
  t.same(Buffer.from(again.publicKey('durable').spki), spki, 'same public key after reopen');
  const sig = await again.signDigest('durable', digestOf('x'));
  t.ok(
    verify(
      'sha256',
      Buffer.from('x'),
      { key: again.publicKey('durable').keyObject, dsaEncoding: 'ieee-p1363' },
      sig,
    ),
  );
});

t.test('ECDH derive on the token agrees with node:crypto', async (t) => {
  const token = Token.open({ label: 'tok-a', pin: USER_PIN });
  t.teardown(() => token.close());
  const info = token.generateKey('reader-kem', 'derive');
  t.same(info.usage, ['derive']);
  const peer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const z = await token.deriveSharedSecret(
    'reader-kem',
    rawPoint(peer.publicKey.export({ format: 'jwk' })),
  );
  const expected = diffieHellman({
    privateKey: peer.privateKey,
    publicKey: info.publicKey.keyObject,
  });
  t.same(Buffer.from(z), expected);
  await t.rejects(
    token.signDigest('reader-kem', digestOf('x')),
    { code: HsmCode.Pkcs11 },
    'a derive key cannot sign',
  );
  await t.rejects(
    token.deriveSharedSecret('reader-kem', new Uint8Array(65)),
    HsmError,
    'an invalid point is refused',
  );
});

t.test('bad input and misuse get typed errors', async (t) => {
  const token = Token.open({ label: 'tok-a', pin: USER_PIN });
  token.generateKey('dup');
  t.throws(() => token.generateKey('dup'), { code: HsmCode.KeyExists });
  t.throws(() => token.publicKey('missing'), { code: HsmCode.KeyNotFound });
  t.throws(() => token.generateKey('bad label with spaces'), { code: HsmCode.BadInput });
  t.throws(() => token.signDigestSync('dup', new Uint8Array(31)), { code: HsmCode.BadInput });
  await t.rejects(token.signDigest('dup', new Uint8Array(33)), { code: HsmCode.BadInput });
  await t.rejects(token.deriveSharedSecret('dup', new Uint8Array(64)), { code: HsmCode.BadInput });
  token.close();
  t.throws(() => token.signDigestSync('dup', digestOf('x')), { code: HsmCode.Closed });
});
