import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { Tag as CborTag } from 'cbor-x';
import t from 'tap';
import { BAD_INPUT, fromHex, toHex } from '../../core/bytes.js';
import { encodeCbor } from '../../core/cbor.js';
import { protectedHeaderBytes, sign1, sigStructure } from '../../core/cose.js';
import { decodeSign1 } from '../../core/cose-decode.js';
import { verifySign1 } from '../../core/cose-verify.js';
import { sha256 } from '../../core/hash.js';
import { ES256, type Signer, softwareSigner } from '../../core/signer.js';
import { testSignerA, testSignerB } from '../helpers/test-keys.js';

const text = (s: string) => new TextEncoder().encode(s);
const A = testSignerA();
const B = testSignerB();

t.test('protected header and Sig_structure bytes are exactly as documented', async (t) => {
  // {1: -7, 4: h'746573742d67772d31'}: A2 | 01 26 | 04 49 'test-gw-1'
  t.equal(toHex(protectedHeaderBytes(text('test-gw-1'))), 'a201260449746573742d67772d31');
  t.equal(toHex(protectedHeaderBytes(new Uint8Array(32))).slice(0, 12), 'a20126045820');
  t.throws(() => protectedHeaderBytes(new Uint8Array(0)), { code: BAD_INPUT, message: /kid/ });
  t.throws(() => protectedHeaderBytes(new Uint8Array(65)), { code: BAD_INPUT, message: /kid/ });
  // An empty kid signed by hand is refused by the decoder too.
  const prot = encodeCbor(
    new Map<number, unknown>([
      [1, -7],
      [4, new Uint8Array(0)],
    ]),
  );
  const m = encodeCbor(new CborTag([prot, new Map(), text('p'), new Uint8Array(64)], 18));
  const d = decodeSign1(m);
  t.equal(d.ok ? 'ok' : d.check, 'kid');
  // ["Signature1", h'A10126', h'', 'This is the content.'] from cose-wg sign1 vectors.
  t.equal(
    toHex(sigStructure(fromHex('a10126'), text('This is the content.'))),
    '846a5369676e61747572653143a101264054546869732069732074686520636f6e74656e742e',
  );
});

t.test(
  'sign1 round-trips, deterministically, and verifies with a point or a KeyObject',
  async (t) => {
    for (const size of [0, 1, 23, 24, 255, 256, 65535, 65536, 200_000]) {
      const payload = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
      const msg = await sign1(A, payload);
      t.same(await sign1(A, payload), msg, `${size}: RFC 6979 makes it deterministic`);
      t.equal(msg[0], 0xd2, 'tag 18');
      const r = verifySign1(msg, A.publicKey, { expectedKid: A.kid });
      t.ok(r.ok, `${size}-byte payload verifies`);
      if (r.ok) t.same(r.msg.payload, payload);
    }
    const jwkKey = createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: Buffer.from(A.publicKey.subarray(1, 33)).toString('base64url'),
        y: Buffer.from(A.publicKey.subarray(33)).toString('base64url'),
      },
      format: 'jwk',
    });
    t.ok(verifySign1(await sign1(A, text('x')), jwkKey).ok, 'KeyObject');
  },
);

t.test('externalAad and unprotected headers', async (t) => {
  const aad = text('gateway gw-1 seq 7');
  const msg = await sign1(A, text('p'), {
    externalAad: aad,
    unprotected: new Map([[33, text('x5')]]),
  });
  t.ok(verifySign1(msg, A.publicKey, { externalAad: aad }).ok);
  t.equal(verifySign1(msg, A.publicKey).ok ? 'ok' : 'signature', 'signature', 'aad missing');
  const other = verifySign1(msg, A.publicKey, { externalAad: text('gateway gw-1 seq 8') });
  t.equal(other.ok ? 'ok' : other.check, 'signature', 'aad differs');
  const d = decodeSign1(msg);
  t.ok(d.ok && d.msg.unprotectedHeader.get(33) instanceof Uint8Array);
  await t.rejects(sign1(A, text('p'), { unprotected: new Map([[1, -7]]) }), { code: BAD_INPUT });
  await t.rejects(sign1(A, text('p'), { unprotected: new Map([[4, A.kid]]) }), { code: BAD_INPUT });
});

t.test(
  'any Signer works: randomized signatures (as a token makes) and broken signers',
  async (t) => {
    const { p256 } = await import('@noble/curves/nist.js');
    const d = p256.utils.randomSecretKey();
    const randomized: Signer = {
      alg: ES256,
      kid: text('hsm-key'),
      // Like a PKCS#11 token: random k, r||s over the digest it is given.
      signDigest: async (digest) => p256.sign(digest, d, { prehash: false, extraEntropy: true }),
    };
    const m1 = await sign1(randomized, text('p'));
    const m2 = await sign1(randomized, text('p'));
    t.not(toHex(m1), toHex(m2), 'randomized signatures differ');
    const pub = p256.getPublicKey(d, false);
    t.ok(verifySign1(m1, pub).ok && verifySign1(m2, pub).ok, 'both verify');
    const zero = await sign1(
      { ...randomized, signDigest: async () => new Uint8Array(64) },
      text('p'),
    );
    const r = verifySign1(zero, pub);
    t.equal(r.ok ? 'ok' : r.check, 'signature', 'an all-zero r||s is refused, not thrown');
    await t.rejects(
      sign1({ ...randomized, signDigest: async () => new Uint8Array(63) }, text('p')),
      {
        code: BAD_INPUT,
        message: /signDigest result/,
      },
    );
    // A node:crypto key pair: sign with its scalar, verify with either KeyObject.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = privateKey.export({ format: 'jwk' });
    const nodeSigner = softwareSigner(Uint8Array.from(Buffer.from(jwk.d!, 'base64url')), text('n'));
    const m3 = await sign1(nodeSigner, text('p'));
    t.ok(verifySign1(m3, publicKey).ok, 'public KeyObject');
    t.ok(verifySign1(m3, privateKey).ok, 'a private KeyObject is taken by its public half');
  },
);

t.test('wrong key, wrong kid, other profiles', async (t) => {
  const msg = await sign1(A, text('reading'));
  const c = (r: ReturnType<typeof verifySign1>) => (r.ok ? 'ok' : r.check);
  t.equal(c(verifySign1(msg, B.publicKey)), 'signature', 'other key');
  t.equal(c(verifySign1(msg, A.publicKey, { expectedKid: B.kid })), 'kid', 'other kid');
  t.equal(c(verifySign1(msg, new Uint8Array(65))), 'key', 'not a point');
  t.equal(c(verifySign1(msg, A.publicKey.subarray(1))), 'key', 'compressed/short point');
  const { publicKey: p384 } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  t.equal(c(verifySign1(msg, p384)), 'key', 'P-384 key');
  t.equal(
    c(verifySign1(msg.subarray(1), A.publicKey)),
    'tag',
    'untagged refused by medchain profile',
  );
  t.equal(
    c(verifySign1(msg.subarray(1), A.publicKey, { profile: 'rfc9052' })),
    'ok',
    'but fine for rfc9052',
  );
  t.equal(c(verifySign1(msg, A.publicKey, { maxBytes: 10 })), 'size');
});

t.test('flipping any single bit of a signed message makes it fail', async (t) => {
  const msg = await sign1(A, text('SpO2 97 %'), { externalAad: text('aad') });
  const checks = new Map<string, number>();
  const passed: number[] = [];
  for (let bit = 0; bit < msg.length * 8; bit++) {
    const m = msg.slice();
    m[bit >> 3]! ^= 1 << (bit & 7);
    const r = verifySign1(m, A.publicKey, { externalAad: text('aad') });
    if (r.ok) passed.push(bit);
    else checks.set(r.check, (checks.get(r.check) ?? 0) + 1);
  }
  t.same(passed, [], `none of ${msg.length * 8} flips verifies`);
  t.comment(JSON.stringify(Object.fromEntries(checks)));
  for (const c of ['signature', 'tag', 'structure', 'cbor']) t.ok(checks.get(c), `${c} seen`);
});

t.test('truncation, trailing bytes and non-canonical re-encodings are refused', async (t) => {
  const msg = await sign1(A, text('x'));
  for (let n = 0; n < msg.length; n++) {
    const r = decodeSign1(msg.subarray(0, n));
    if (r.ok) t.fail(`truncated to ${n} bytes decoded`);
  }
  const trailing = decodeSign1(Uint8Array.from([...msg, 0]));
  t.equal(trailing.ok ? 'ok' : trailing.check, 'cbor');
  // Same content, payload length in a non-minimal head: 0x58 0x01 instead of 0x41.
  const d = decodeSign1(msg);
  if (!d.ok) throw new Error('own message did not decode');
  const hex = toHex(msg);
  const loose = fromHex(hex.replace('4178', '580178'));
  const r = decodeSign1(loose);
  t.equal(r.ok ? 'ok' : r.check, 'non-canonical');
  // Protected header with its keys in the other order: valid CBOR, not our profile.
  const swapped = encodeCbor([
    fromHex('a204417801 26'.replace(' ', '')),
    new Map(),
    text('x'),
    d.msg.signature,
  ]);
  const s = decodeSign1(Uint8Array.from([0xd2, ...swapped]));
  t.equal(s.ok ? 'ok' : s.check, 'protected-header');
});

t.test('hostile bytes never throw', async (t) => {
  const msg = await sign1(A, text('payload'));
  let seed = 0x9e3779b9;
  const rnd = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const nasty = [
    new Uint8Array(0),
    fromHex('d81d00'), // shared-reference tag 29 with no table: TypeError inside cbor-x
    fromHex('d2849b00000000ffffffff'),
    fromHex('d2845b00000000ffffffff'),
    fromHex('d28440a0f658400000'),
    fromHex('d28440a040f6'),
    Uint8Array.from([0xd2, ...new Uint8Array(200_000).fill(0x81)]), // nesting bomb
    fromHex('d284 43a10126 a1 a0 01 41 78 5840'.replaceAll(' ', '') + '00'.repeat(64)),
  ];
  for (let i = 0; i < 3000; i++) {
    const m = msg.slice(0, Math.floor(rnd() * (msg.length + 4)));
    for (let k = 0; k < 1 + rnd() * 4; k++)
      m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
    nasty.push(m);
  }
  let threw = 0;
  let ok = 0;
  for (const m of nasty) {
    try {
      const r = verifySign1(m, A.publicKey);
      if (r.ok) ok++;
    } catch {
      threw++;
    }
  }
  t.equal(threw, 0, 'no exception');
  t.equal(ok, 0, 'no mutation verifies');
  t.equal(sha256(msg).length, 32);
});
