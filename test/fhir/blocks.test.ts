import { p256 } from '@noble/curves/nist.js';
import t from 'tap';
import {
  bodyHash,
  encodeBlockHeader,
  internalHash,
  type SealedBlock,
  sealBlock,
  ZERO_HASH,
} from '../../core/block.js';
import type { ReaderKey } from '../../core/body.js';
import { sign1 } from '../../core/cose.js';
import { formatDecimal } from '../../core/decimal.js';
import { encodeDet } from '../../core/det-cbor.js';
import { encodeEntry } from '../../core/entry.js';
import { softwareRecipient } from '../../core/hpke.js';
import { encodeReading, type Reading } from '../../core/reading.js';
import { type ChainBlock, ReaderExport } from '../../fhir/blocks.js';
import { FhirCode, FhirError } from '../../fhir/errors.js';
import { testSignerA } from '../helpers/test-keys.js';

// The in-process checks of a reader's pass; test/fhir/export.test.ts runs the real
// notary, export file and CLI.
const signer = testSignerA();
const key = (kid: string): ReaderKey => ({
  kid,
  ...softwareRecipient(p256.utils.randomSecretKey()),
});
const alice = key('alice');
const bob = key('bob');
const T0 = Date.UTC(2025, 5, 1, 8, 0, 0, 0);

const temp = (seq: number, centi: number): Reading => ({
  deviceId: 'temp-1',
  seq,
  deviceTime: T0 + seq * 1000,
  patient: 'MRN-1',
  observations: [
    { kind: 'numeric', code: 150364, value: { mantissa: centi, exponent: -2 }, unit: 'Cel' },
  ],
});

async function seal(
  readings: Uint8Array[],
  readers: ReaderKey[] = [alice],
  seq = 1,
): Promise<SealedBlock> {
  return sealBlock({
    gatewayId: 'gw-1',
    seq,
    prev: seq === 1 ? ZERO_HASH : new Uint8Array(32).fill(seq),
    readings: readings.map((reading) => ({ reading, receivedAt: T0 + 500 })),
    readers,
    signer,
    sealedAt: T0 + 900,
  });
}

function chainBlock(
  b: { signedHeader: Uint8Array; body: Uint8Array },
  height: number,
  over: Partial<ChainBlock> = {},
): ChainBlock {
  const entry = encodeEntry({
    height,
    prev: ZERO_HASH,
    internal: internalHash(b.signedHeader),
    submitter: 'gw-1',
    registeredAt: T0 + 1000,
  });
  return { height, entry, signedHeader: b.signedHeader, body: b.body, erased: false, ...over };
}

const fhirError = (code: FhirCode, height?: number) =>
  new FhirError(code, '', height === undefined ? {} : { height });

t.test('reads every reading of a block it is a recipient of, in leaf order', async (t) => {
  const b = await seal([encodeReading(temp(1, 3712)), encodeReading(temp(2, 3720))], [alice, bob]);
  for (const reader of [alice, bob]) {
    const x = new ReaderExport(reader, 'notary-1');
    const opened = await x.block(chainBlock(b.block, 4));
    t.same(
      opened?.readings.map((s) => [
        `${s.reading.deviceId}/${s.reading.seq}`,
        s.reading.observations[0]?.kind === 'numeric'
          ? formatDecimal(s.reading.observations[0].value)
          : '',
        s.notaryId,
        s.height,
      ]),
      [
        ['temp-1/1', '37.12', 'notary-1', 4],
        ['temp-1/2', '37.20', 'notary-1', 4],
      ],
    );
    t.equal(opened?.records.length, 2, 'the salted records, for the reading proofs');
    t.same(x.finish(), { blocks: 1, read: 1, erased: 0, unreadable: {}, readings: 2 });
  }
});

t.test(
  'erased and foreign blocks are counted, not failed, while one block is readable',
  async (t) => {
    const mine = await seal([encodeReading(temp(1, 3700))], [alice], 1);
    const other = await seal([encodeReading(temp(2, 3700))], [bob], 2);
    const gone = await seal([encodeReading(temp(3, 3700))], [alice], 3);
    const x = new ReaderExport(alice, 'notary-1');
    t.equal((await x.block(chainBlock(mine.block, 1)))?.readings.length, 1);
    t.equal(await x.block(chainBlock(other.block, 2)), undefined);
    t.equal(
      await x.block(chainBlock({ ...gone.block, body: new Uint8Array(0) }, 3, { erased: true })),
      undefined,
    );
    t.same(x.finish(), {
      blocks: 3,
      read: 1,
      erased: 1,
      unreadable: { BODY_NOT_A_READER: 1 },
      readings: 1,
    });
  },
);

t.test('a key that opens nothing is a typed error with the counts', async (t) => {
  const b = await seal([encodeReading(temp(1, 3700))], [alice, bob]);
  const stranger = new ReaderExport(key('carol'), 'notary-1');
  await stranger.block(chainBlock(b.block, 1));
  t.throws(() => stranger.finish(), fhirError(FhirCode.NothingReadable));
  t.match(stranger.stats.unreadable, { BODY_NOT_A_READER: 1 });
  // Alice's kid with someone else's private key: the wrapped key does not open.
  const impostor = new ReaderExport({ ...key('x'), kid: 'alice' }, 'notary-1');
  await impostor.block(chainBlock(b.block, 1));
  t.throws(() => impostor.finish(), /1 addressed to this reader id, but this key does not open/);
  t.same(impostor.stats.unreadable, { BODY_KEY_UNWRAP_FAILED: 1 });
  // A regional notary's blocks carry signed checkpoints, not encrypted reading bodies.
  const anchor = await seal([encodeReading(temp(1, 3700))]);
  const checkpointBody = encodeDet([2, 'notary-1', 5]);
  const anchorHeader = await sign1(
    signer,
    encodeBlockHeader({ ...anchor.header, bodyHash: bodyHash(checkpointBody) }),
  );
  const regional = new ReaderExport(alice, 'regional');
  t.same(
    await regional.block(chainBlock({ signedHeader: anchorHeader, body: checkpointBody }, 1)),
    undefined,
  );
  t.throws(() => regional.finish(), /1 not encrypted reading bodies .*\(BODY_MALFORMED\)/);
  const nothing = new ReaderExport(alice, 'notary-1');
  t.same(nothing.finish().blocks, 0, 'an empty chain is not an error');
});

t.test('a body that does not match its signed bodyHash stops before decryption', async (t) => {
  const b = await seal([encodeReading(temp(1, 3700))]);
  const body = b.block.body.slice();
  body[body.length - 3]! ^= 0x01;
  const x = new ReaderExport(alice, 'notary-1');
  await t.rejects(x.block(chainBlock({ ...b.block, body }, 6)), fhirError(FhirCode.BodyHash, 6));
  t.equal(x.stats.read, 0);
});

t.test('records that are not the signed count and root are refused', async (t) => {
  const b = await seal([encodeReading(temp(1, 3700))]);
  // A header signed by the gateway key, committing to this body but to another root.
  const forged = await sign1(
    signer,
    encodeBlockHeader({ ...b.header, root: new Uint8Array(32).fill(7) }),
  );
  const x = new ReaderExport(alice, 'notary-1');
  await t.rejects(
    x.block(chainBlock({ signedHeader: forged, body: b.block.body }, 2)),
    fhirError(FhirCode.BodyMismatch, 2),
  );
});

t.test(
  'a sealed record that is not a medchain reading is refused by height and record',
  async (t) => {
    const good = encodeReading(temp(1, 3700));
    const unknownCode = encodeReading({
      ...temp(2, 3700),
      observations: [
        { kind: 'numeric', code: 1, value: { mantissa: 1, exponent: 0 }, unit: 'Cel' },
      ],
    });
    for (const bad of [encodeDet(['not', 'a', 'reading']), unknownCode]) {
      const b = await seal([good, bad]);
      const x = new ReaderExport(alice, 'notary-1');
      await t.rejects(x.block(chainBlock(b.block, 9)), fhirError(FhirCode.BadReading, 9));
    }
  },
);

t.test('an entry that does not register the block is refused before decryption', async (t) => {
  const b = await seal([encodeReading(temp(1, 3700))]);
  const other = await seal([encodeReading(temp(2, 3700))]);
  const x = new ReaderExport(alice, 'notary-1');
  const registered = chainBlock(b.block, 3);
  const cases: [string, ChainBlock][] = [
    ['another signed header', { ...registered, signedHeader: other.block.signedHeader }],
    ['another height', { ...registered, height: 4 }],
    ['garbage entry', { ...registered, entry: Uint8Array.of(0xff) }],
    [
      'another submitter',
      {
        ...registered,
        entry: encodeEntry({
          height: 3,
          prev: ZERO_HASH,
          internal: internalHash(b.block.signedHeader),
          submitter: 'gw-2',
          registeredAt: T0,
        }),
      },
    ],
  ];
  for (const [what, cb] of cases) {
    await t.rejects(x.block(cb), fhirError(FhirCode.BadExport, cb.height), what);
  }
  const header = b.block.signedHeader.slice(0, 5);
  await t.rejects(
    x.block(chainBlock({ ...b.block, signedHeader: header }, 3)),
    fhirError(FhirCode.BadExport, 3),
    'a signed header that is not COSE_Sign1',
  );
  t.equal(x.stats.read, 0);
});
