import { p256 } from '@noble/curves/nist.js';
import t from 'tap';
import { BodyCode, openBody, type ReaderKey, SALT_BYTES, sealBody } from '../../core/body.js';
import { encodeDet } from '../../core/det-cbor.js';
import { softwareRecipient } from '../../core/hpke.js';
import { encodeReading, type Reading } from '../../core/reading.js';
import { decodeReading } from '../../core/reading-decode.js';

function reader(kid: string): ReaderKey {
  return { kid, ...softwareRecipient(p256.utils.randomSecretKey()) };
}
const pub = (r: ReaderKey) => ({ kid: r.kid, publicKey: r.publicKey });
const T0 = Date.UTC(2025, 0, 31, 12);
const reading = (seq: number): Reading => ({
  deviceId: 'ox-1',
  seq,
  deviceTime: T0 + seq,
  patient: 'MRN-1',
  observations: [
    { kind: 'numeric', code: 150456, value: { mantissa: 970 + seq, exponent: -1 }, unit: '%' },
  ],
});
const aad = new TextEncoder().encode('header fields');
const inputs = [0, 1, 2].map((s) => ({
  reading: encodeReading(reading(s)),
  receivedAt: T0 + 100 + s,
}));

t.test('round trip for one and for two readers; records are the Merkle leaves', async (t) => {
  const a = reader('reader-a');
  const b = reader('reader-b');
  for (const readers of [[a], [a, b]]) {
    const sealed = await sealBody(inputs, readers.map(pub), aad);
    for (const r of readers) {
      const recs = await openBody(sealed.body, r, aad);
      t.equal(recs.length, 3);
      for (const [i, rec] of recs.entries()) {
        t.same(Buffer.from(rec.bytes), Buffer.from(sealed.records[i]!.bytes), 'leaf bytes match');
        t.equal(rec.receivedAt, T0 + 100 + i);
        const d = decodeReading(rec.reading, { format: 'cbor' });
        t.ok(d.ok && d.value.reading.seq === i, 'reading decodes');
      }
    }
  }
});

t.test('salts are fresh per reading and per seal', async (t) => {
  const a = reader('a');
  const one = await sealBody(inputs, [pub(a)], aad);
  const two = await sealBody(inputs, [pub(a)], aad);
  const salts = [...one.records, ...two.records].map((r) => Buffer.from(r.salt).toString('hex'));
  t.equal(new Set(salts).size, 6);
  t.equal(one.records[0]!.salt.length, SALT_BYTES);
  t.same(
    Buffer.from(one.records[0]!.bytes),
    Buffer.from(encodeDet([one.records[0]!.salt, T0 + 100, inputs[0]!.reading])),
  );
  t.notSame(Buffer.from(one.body), Buffer.from(two.body));
});

t.test('a non-reader cannot open', async (t) => {
  const a = reader('a');
  const sealed = await sealBody(inputs, [pub(a)], aad);
  await t.rejects(openBody(sealed.body, reader('stranger'), aad), { code: BodyCode.NotAReader });
  // Someone claiming reader a's kid with another key.
  await t.rejects(openBody(sealed.body, reader('a'), aad), { code: BodyCode.UnwrapFailed });
});

t.test('tampering and wrong AAD fail with typed errors', async (t) => {
  const a = reader('a');
  const sealed = await sealBody(inputs, [pub(a)], aad);
  await t.rejects(openBody(sealed.body, a, new TextEncoder().encode('other header')), {
    code: BodyCode.UnwrapFailed,
  });
  // Flip one bit in the middle of the body ciphertext (after the version and nonce heads).
  const flipped = Uint8Array.from(sealed.body);
  const at = 1 + 1 + 12 + 3 + 20;
  flipped[at] = (flipped[at]! ^ 0x01) & 0xff;
  await t.rejects(openBody(flipped, a, aad), { code: BodyCode.DecryptFailed });
  await t.rejects(openBody(sealed.body.subarray(0, 20), a, aad), { code: BodyCode.Malformed });
  await t.rejects(openBody(Uint8Array.of(0xa0), a, aad), { code: BodyCode.Malformed });
});

t.test('bad seal inputs are refused', async (t) => {
  await t.rejects(sealBody(inputs, [], aad), { code: BodyCode.BadInput });
  const a = reader('a');
  await t.rejects(sealBody(inputs, [pub(a), pub(a)], aad), { code: BodyCode.BadInput });
  await t.rejects(sealBody(inputs, [{ kid: 'x', publicKey: new Uint8Array(65) }], aad), {
    code: BodyCode.BadInput,
  });
});
