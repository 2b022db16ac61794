import { randomBytes } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import t from 'tap';
import {
  bodyAad,
  decodeBlock,
  decodeBlockHeader,
  encodeBlock,
  internalHash,
  sealBlock,
  ZERO_HASH,
} from '../../core/block.js';
import { verifyBlock } from '../../core/block-verify.js';
import { openBody, type ReaderKey } from '../../core/body.js';
import { BAD_INPUT } from '../../core/bytes.js';
import { softwareRecipient } from '../../core/hpke.js';
import { leafHash, merkleRoot } from '../../core/merkle.js';
import { encodeReading, type Reading } from '../../core/reading.js';
import { softwareSigner } from '../../core/signer.js';

const T0 = Date.UTC(2026, 10, 25, 3);
const gw = softwareSigner(p256.utils.randomSecretKey(), new TextEncoder().encode('gw-1 cert'));
const other = softwareSigner(p256.utils.randomSecretKey(), new TextEncoder().encode('other'));
const reader: ReaderKey = { kid: 'reader-1', ...softwareRecipient(p256.utils.randomSecretKey()) };

const reading = (seq: number): Reading => ({
  deviceId: 'ox-1',
  seq,
  deviceTime: T0 + seq,
  patient: 'MRN-7',
  observations: [
    { kind: 'numeric', code: 150456, value: { mantissa: 960 + seq, exponent: -1 }, unit: '%' },
  ],
});

async function seal(seq: number, prev: Uint8Array, n = 3) {
  return sealBlock({
    gatewayId: 'gw-1',
    seq,
    prev,
    readings: Array.from({ length: n }, (_, i) => ({
      reading: encodeReading(reading(seq * 100 + i)),
      receivedAt: T0 + 500 + i,
    })),
    readers: [{ kid: reader.kid, publicKey: reader.publicKey }],
    signer: gw,
    sealedAt: T0 + 1000 * seq,
  });
}

t.test('a sealed block verifies, chains and opens for its reader', async (t) => {
  const b1 = await seal(1, ZERO_HASH);
  const v1 = verifyBlock(b1.block, gw.publicKey, { gatewayId: 'gw-1', kid: gw.kid });
  t.ok(v1.ok, 'block 1 verifies');
  if (!v1.ok) return;
  t.equal(v1.header.seq, 1);
  t.equal(v1.header.count, 3);
  t.equal(v1.bodyErased, false);
  t.same(Buffer.from(v1.hash), Buffer.from(internalHash(b1.block.signedHeader)));
  t.same(
    Buffer.from(v1.header.root),
    Buffer.from(merkleRoot(b1.records.map((r) => leafHash(r.bytes)))),
    'root is the RFC 9162 root of the salted records',
  );

  const b2 = await seal(2, b1.hash);
  const v2 = verifyBlock(b2.block, gw.publicKey);
  t.ok(v2.ok && Buffer.from(v2.header.prev).equals(Buffer.from(b1.hash)), 'block 2 links to h(1)');

  const records = await openBody(b1.block.body, reader, bodyAad('gw-1', 1));
  t.same(
    records.map((r) => Buffer.from(r.reading)),
    b1.records.map((r) => Buffer.from(r.reading)),
  );
  await t.rejects(
    openBody(b1.block.body, reader, bodyAad('gw-1', 2)),
    'the body is bound to its seq',
  );

  const wire = decodeBlock(b1.bytes);
  t.ok(
    wire.ok && Buffer.from(encodeBlock(wire.value)).equals(Buffer.from(b1.bytes)),
    'wire round trip',
  );
});

t.test('every flipped byte of the signed header or body is detected', async (t) => {
  const b = await seal(1, ZERO_HASH, 2);
  const { signedHeader, body } = b.block;
  const failures = new Map<string, number>();
  for (let i = 0; i < signedHeader.length; i++) {
    const bad = Uint8Array.from(signedHeader);
    bad[i]! ^= 0x01;
    const r = verifyBlock({ signedHeader: bad, body }, gw.publicKey);
    t.notOk(r.ok, `header byte ${i}`);
    if (!r.ok) failures.set(r.check, (failures.get(r.check) ?? 0) + 1);
  }
  t.same([...failures.keys()], ['signature'], 'header tampering fails the signature check');
  for (const i of [0, 5, body.length >> 1, body.length - 1]) {
    const bad = Uint8Array.from(body);
    bad[i]! ^= 0x80;
    const r = verifyBlock({ signedHeader, body: bad }, gw.publicKey);
    t.match(r, { ok: false, check: 'body-hash' }, `body byte ${i}`);
  }
});

t.test('erased body: header and hash still verify, reported as erased', async (t) => {
  const b = await seal(1, ZERO_HASH);
  const r = verifyBlock(
    { signedHeader: b.block.signedHeader, body: new Uint8Array(0) },
    gw.publicKey,
  );
  t.match(r, { ok: true, bodyErased: true });
  t.same(r.ok && Buffer.from(r.hash), Buffer.from(b.hash), 'h(n) unchanged by erasure');
});

t.test('wrong key, wrong gateway, wrong kid', async (t) => {
  const b = await seal(1, ZERO_HASH);
  t.match(verifyBlock(b.block, other.publicKey), { ok: false, check: 'signature' });
  t.match(verifyBlock(b.block, gw.publicKey, { gatewayId: 'gw-2' }), {
    ok: false,
    check: 'gateway-id',
    expected: 'gw-2',
    actual: 'gw-1',
  });
  t.match(verifyBlock(b.block, gw.publicKey, { kid: other.kid }), {
    ok: false,
    check: 'signature',
  });
});

t.test('bad seal input is refused; hostile bytes never throw', async (t) => {
  await t.rejects(seal(1, randomBytes(32)), { code: BAD_INPUT }, 'seq 1 needs a zero prev');
  await t.rejects(seal(2, ZERO_HASH, 0), { code: BAD_INPUT }, 'no readings');
  for (let i = 0; i < 300; i++) {
    const junk = randomBytes(i % 97);
    t.notOk(decodeBlock(junk).ok && decodeBlockHeader(junk).ok);
  }
  t.match(decodeBlockHeader(Uint8Array.of(0x88, 1, 0x60)), { ok: false });
});
