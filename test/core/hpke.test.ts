import { readFileSync } from 'node:fs';
import { Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, HkdfSha256 } from '@hpke/core';
import { p256 } from '@noble/curves/nist.js';
import t from 'tap';
import {
  AEAD_AES128GCM,
  AEAD_AES256GCM,
  decapP256,
  keyScheduleBase,
  openBase,
  softwareRecipient,
} from '../../core/hpke.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const v = JSON.parse(
  readFileSync(
    new URL('../vectors/hpke/rfc9180-a3-p256-sha256-aes128gcm-base.json', import.meta.url),
    'utf8',
  ),
);

t.test('RFC 9180 A.3.1 known answers through our decap path', async (t) => {
  const recipient = softwareRecipient(hex(v.skRm));
  t.equal(Buffer.from(recipient.publicKey).toString('hex'), v.pkRm, 'pkRm from skRm');
  const ss = await decapP256(hex(v.enc), recipient);
  t.equal(Buffer.from(ss).toString('hex'), v.shared_secret, 'shared_secret');
  const ks = keyScheduleBase(ss, hex(v.info), AEAD_AES128GCM);
  t.equal(Buffer.from(ks.key).toString('hex'), v.key, 'key');
  t.equal(Buffer.from(ks.baseNonce).toString('hex'), v.base_nonce, 'base_nonce');
  const e = v.encryptions[0];
  const pt = await openBase({
    recipient,
    enc: hex(v.enc),
    info: hex(v.info),
    aad: hex(e.aad),
    ct: hex(e.ct),
    aeadId: AEAD_AES128GCM,
  });
  t.equal(Buffer.from(pt).toString('hex'), e.pt, 'seq 0 plaintext');
});

t.test(
  'our decap opens what @hpke/core seals (AES-256-GCM), via a DH-only recipient',
  async (t) => {
    const sk = p256.utils.randomSecretKey();
    const soft = softwareRecipient(sk);
    let dhCalls = 0;
    // What an HSM offers: the public point and raw ECDH, nothing else.
    const hsmLike = {
      publicKey: soft.publicKey,
      deriveSharedSecret: async (enc: Uint8Array) => {
        dhCalls++;
        return p256.getSharedSecret(sk, enc, true).subarray(1);
      },
    };
    const suite = new CipherSuite({
      kem: new DhkemP256HkdfSha256(),
      kdf: new HkdfSha256(),
      aead: new Aes256Gcm(),
    });
    const pk = await suite.kem.deserializePublicKey(soft.publicKey);
    const info = new TextEncoder().encode('info');
    const aad = new TextEncoder().encode('aad');
    const sealed = await suite.seal(
      { recipientPublicKey: pk, info },
      new TextEncoder().encode('hello'),
      aad,
    );
    const args = {
      enc: new Uint8Array(sealed.enc),
      info,
      aad,
      ct: new Uint8Array(sealed.ct),
      aeadId: AEAD_AES256GCM,
    };
    const pt = await openBase({ ...args, recipient: hsmLike });
    t.equal(new TextDecoder().decode(pt), 'hello');
    t.equal(dhCalls, 1);
    await t.rejects(
      openBase({ ...args, aad: new Uint8Array(0), recipient: hsmLike }),
      'wrong aad fails',
    );
    const bad = Uint8Array.from(args.enc);
    bad[10] = (bad[10]! ^ 1) & 0xff;
    await t.rejects(
      openBase({ ...args, enc: bad, recipient: hsmLike }),
      'point off the curve refused',
    );
    t.equal(dhCalls, 2, 'the off-curve point never reached the DH callback');
  },
);
