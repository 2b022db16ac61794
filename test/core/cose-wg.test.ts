import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { fromHex, toHex } from '../../core/bytes.js';
import { sigStructure } from '../../core/cose.js';
import { decodeSign1 } from '../../core/cose-decode.js';
import { verifySign1 } from '../../core/cose-verify.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '../vectors/cose-wg');

interface Jwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
}
interface CoseWgSigner {
  key: Jwk;
  external?: string;
}
interface CoseWgVector {
  title: string;
  fail?: boolean;
  input: { sign0?: CoseWgSigner; sign?: { signers: CoseWgSigner[] } };
  intermediates?: { ToBeSign_hex?: string };
  output: { cbor: string };
}

/**
 * What each vector must give, profile 'rfc9052' (any conforming ES256 COSE_Sign1).
 * 'ok' = verifies; otherwise the check that must reject it. Nothing is skipped:
 * what we do not support (COSE_Sign, ES384, ES512) is asserted to be refused.
 */
const EXPECT: Record<string, string> = {
  'sign1-tests/sign-pass-01.json': 'ok', // empty protected header, alg unprotected
  'sign1-tests/sign-pass-02.json': 'ok', // external AAD
  'sign1-tests/sign-pass-03.json': 'ok', // untagged
  'sign1-tests/sign-fail-01.json': 'tag', // tag 998 instead of 18
  'sign1-tests/sign-fail-02.json': 'signature', // payload changed after signing
  'sign1-tests/sign-fail-03.json': 'alg', // alg -999
  'sign1-tests/sign-fail-04.json': 'alg', // alg "unknown"
  'sign1-tests/sign-fail-06.json': 'signature', // protected attribute added
  'sign1-tests/sign-fail-07.json': 'signature', // protected attribute removed
  'ecdsa-examples/ecdsa-sig-01.json': 'ok', // ES256 with ctyp protected
  'ecdsa-examples/ecdsa-sig-02.json': 'alg', // unsupported: ES384 / P-384
  'ecdsa-examples/ecdsa-sig-03.json': 'alg', // unsupported: ES512 / P-521
  'ecdsa-examples/ecdsa-sig-04.json': 'alg', // unsupported: ES512 on P-256
  'ecdsa-examples/ecdsa-01.json': 'tag', // unsupported: COSE_Sign (tag 98)
  'ecdsa-examples/ecdsa-02.json': 'tag',
  'ecdsa-examples/ecdsa-03.json': 'tag',
  'ecdsa-examples/ecdsa-04.json': 'tag',
};

/** The medchain profile is stricter: tag 18 required, exactly {1: -7, 4: kid} protected. */
const EXPECT_MEDCHAIN: Record<string, string> = {
  'sign1-tests/sign-pass-01.json': 'alg',
  'sign1-tests/sign-pass-02.json': 'kid',
  'sign1-tests/sign-pass-03.json': 'tag',
  'ecdsa-examples/ecdsa-sig-01.json': 'kid',
};

const files = ['sign1-tests', 'ecdsa-examples'].flatMap((d) =>
  readdirSync(join(dir, d))
    .filter((f) => f.endsWith('.json'))
    .map((f) => `${d}/${f}`),
);

t.same(files.slice().sort(), Object.keys(EXPECT).sort(), 'every vector file has an expectation');

const point = (k: Jwk) =>
  Uint8Array.from(
    Buffer.concat([Buffer.of(4), Buffer.from(k.x, 'base64url'), Buffer.from(k.y, 'base64url')]),
  );

for (const file of files) {
  t.test(file, async (t) => {
    const v = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CoseWgVector;
    const signer = v.input.sign0 ?? v.input.sign?.signers[0];
    if (!signer) throw new Error(`${file}: no signer`);
    const bytes = fromHex(v.output.cbor);
    const aad = signer.external === undefined ? undefined : fromHex(signer.external);
    const want = EXPECT[file]!;
    const opts = { profile: 'rfc9052' as const, ...(aad ? { externalAad: aad } : {}) };
    const got =
      signer.key.crv === 'P-256'
        ? verifySign1(bytes, point(signer.key), opts)
        : decodeSign1(bytes, opts);
    t.equal(got.ok ? 'ok' : got.check, want, `${v.title}: ${want}`);
    t.equal(want !== 'ok', Boolean(v.fail) || (!file.includes('sign-pass') && want !== 'ok'));
    if (got.ok && v.intermediates?.ToBeSign_hex) {
      const body = got.msg.protectedHeader.size === 0 ? new Uint8Array() : got.msg.protectedBytes;
      const tbs = sigStructure(body, got.msg.payload, aad);
      t.equal(toHex(tbs), v.intermediates.ToBeSign_hex.toLowerCase(), 'Sig_structure bytes');
    }
    const strict = EXPECT_MEDCHAIN[file];
    if (strict !== undefined) {
      const r = verifySign1(bytes, point(signer.key), aad ? { externalAad: aad } : {});
      t.equal(r.ok ? 'ok' : r.check, strict, `medchain profile: ${strict}`);
    }
  });
}
