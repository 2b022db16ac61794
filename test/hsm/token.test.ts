import { spawnSync } from 'node:child_process';
import { createHash, diffieHellman, generateKeyPairSync, verify } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import t from 'tap';
import { HsmCode, HsmError } from '../../hsm/errors.js';
import { acquireModule, findToken, resolveModulePath } from '../../hsm/module.js';
import { Token } from '../../hsm/token.js';
import { softHsmFixture, USER_PIN } from '../helpers/softhsm.js';

softHsmFixture(t, ['tok-a']);

// CKR_ACTION_PROHIBITED is 0x1B (PKCS#11 v2.40); pkcs11js predates it and names it
// CKR_VENDOR_DEFINED:27.
const PROHIBITED = /CKR_ACTION_PROHIBITED|CKR_VENDOR_DEFINED:27\b|CKR_ATTRIBUTE_READ_ONLY/;

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

t.test(
  'signing keys sign only, reader keys derive only; neither can be changed or copied',
  async (t) => {
    const token = Token.open({ label: 'tok-a', pin: USER_PIN });
    t.teardown(() => token.close());
    token.generateKey('hard-sign');
    token.generateKey('hard-read', 'derive');
    const expected = {
      'hard-sign': { sign: true, derive: false },
      'hard-read': { sign: false, derive: true },
    };
    for (const [label, usage] of Object.entries(expected)) {
      t.same(
        token.keyInfo(label).attributes,
        {
          ...usage,
          signRecover: false,
          decrypt: false,
          unwrap: false,
          modifiable: false,
          copyable: false,
          destroyable: true,
        },
        `${label}: Token.keyInfo reports the token's attributes`,
      );
    }

    // Past our API: the token itself, through PKCS#11.
    const m = acquireModule();
    t.teardown(() => m.release());
    const slot = findToken(m.p11, 'tok-a', m.path).slot;
    const s = m.p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    t.teardown(() => m.p11.C_CloseSession(s));
    const find = (label: string) => {
      m.p11.C_FindObjectsInit(s, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_LABEL, value: label },
      ]);
      const h = m.p11.C_FindObjects(s);
      m.p11.C_FindObjectsFinal(s);
      if (!h) throw new Error(`no key ${label}`);
      return h;
    };
    const bool = (h: Buffer, type: number) => {
      const [a] = m.p11.C_GetAttributeValue(s, h, [{ type }]);
      return Buffer.isBuffer(a?.value) && a.value[0] === 1;
    };
    for (const [label, usage] of Object.entries(expected)) {
      const h = find(label);
      t.equal(bool(h, pkcs11js.CKA_SIGN), usage.sign, `${label} CKA_SIGN`);
      t.equal(bool(h, pkcs11js.CKA_DERIVE), usage.derive, `${label} CKA_DERIVE`);
      for (const [name, type] of [
        ['CKA_DECRYPT', pkcs11js.CKA_DECRYPT],
        ['CKA_UNWRAP', pkcs11js.CKA_UNWRAP],
        ['CKA_SIGN_RECOVER', pkcs11js.CKA_SIGN_RECOVER],
        ['CKA_MODIFIABLE', pkcs11js.CKA_MODIFIABLE],
        ['CKA_COPYABLE', pkcs11js.CKA_COPYABLE],
      ] as const) {
        t.equal(bool(h, type), false, `${label} ${name} false`);
      }
      t.throws(
        () => m.p11.C_SetAttributeValue(s, h, [{ type: pkcs11js.CKA_DECRYPT, value: true }]),
        PROHIBITED,
        `${label}: decrypt cannot be switched on`,
      );
      t.throws(
        () => m.p11.C_CopyObject(s, h, [{ type: pkcs11js.CKA_LABEL, value: `${label}-copy` }]),
        PROHIBITED,
        `${label}: cannot be copied`,
      );
    }
    t.throws(
      () => m.p11.C_SignInit(s, { mechanism: pkcs11js.CKM_ECDSA }, find('hard-read')),
      /CKR_KEY_FUNCTION_NOT_PERMITTED|CKR_KEY_TYPE_INCONSISTENT/,
      'a reader key does not sign',
    );

    // The field's own tool says the same.
    const tool = spawnSync(
      'pkcs11-tool',
      [
        '--module',
        resolveModulePath(),
        '--token-label',
        'tok-a',
        '--login',
        '--pin',
        USER_PIN,
        '--list-objects',
        '--type',
        'privkey',
      ],
      { encoding: 'utf8' },
    );
    t.equal(tool.status, 0, tool.stderr);
    const block = (label: string) => {
      const i = tool.stdout.indexOf(`label:      ${label}`);
      return tool.stdout.slice(i, tool.stdout.indexOf('\n\n', i) >>> 0 || undefined);
    };
    t.match(block('hard-sign'), /Usage:\s+sign\n/, 'pkcs11-tool: the signing key is sign only');
    t.match(block('hard-read'), /Usage:\s+derive\n/, 'pkcs11-tool: the reader key is derive only');
    t.notMatch(block('hard-sign'), /decrypt|unwrap/);
  },
);
