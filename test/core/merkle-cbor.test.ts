import t from 'tap';
import { BAD_INPUT, fromHex, toHex } from '../../core/bytes.js';
import { encodeCbor } from '../../core/cbor.js';
import { leafHash } from '../../core/merkle.js';
import {
  decodeConsistencyProof,
  decodeInclusionProof,
  encodeConsistencyProof,
  encodeInclusionProof,
  MAX_INCLUSION_PATH,
} from '../../core/merkle-cbor.js';

const h = (i: number) => leafHash(Uint8Array.of(i));

t.test('proofs encode as documented and round-trip', async (t) => {
  const path = [h(1), h(2)];
  const enc = encodeInclusionProof({ leafIndex: 5, treeSize: 8, path });
  // [5, 8, [h'..', h'..']]: 83 05 08 82 5820 <32> 5820 <32>
  t.equal(toHex(enc.subarray(0, 6)), '830508825820');
  t.equal(enc.length, 4 + 2 * 34);
  const d = decodeInclusionProof(enc);
  t.ok(d.ok);
  if (d.ok)
    t.same(
      { ...d.proof, path: d.proof.path.map(toHex) },
      { leafIndex: 5, treeSize: 8, path: path.map(toHex) },
    );
  const big = encodeConsistencyProof({ size1: 1000, size2: 2 ** 40, path: [] });
  t.equal(toHex(big), '831903e8' + '1b0000010000000000' + '80');
  const c = decodeConsistencyProof(big);
  t.same(c.ok && c.proof, { size1: 1000, size2: 2 ** 40, path: [] });
});

t.test('malformed proofs are named, never thrown', async (t) => {
  const c = (b: Uint8Array) => {
    const r = decodeInclusionProof(b);
    return r.ok ? 'ok' : r.check;
  };
  t.equal(c(fromHex('')), 'cbor');
  t.equal(c(fromHex('830508')), 'cbor');
  t.equal(c(fromHex('8305088000')), 'cbor', 'trailing byte');
  t.equal(c(fromHex('83180508 80'.replace(' ', ''))), 'non-canonical');
  t.equal(c(fromHex('820508')), 'structure');
  t.equal(c(fromHex('832508 80'.replace(' ', ''))), 'structure', 'negative index');
  t.equal(c(fromHex('83fb3ff800000000000008 80'.replace(' ', ''))), 'non-canonical', 'float index');
  t.equal(c(fromHex('83051b002000000000000080')), 'structure', '2^53 size');
  t.equal(c(encodeCbor([5, 8, [new Uint8Array(31)]])), 'proof-element');
  t.equal(c(encodeCbor([5, 8, ['x']])), 'proof-element');
  t.equal(c(encodeCbor([5, 8, Array(MAX_INCLUSION_PATH + 1).fill(h(0))])), 'structure');
  t.equal(c('x' as unknown as Uint8Array), 'structure');
  t.throws(() => encodeInclusionProof({ leafIndex: -1, treeSize: 1, path: [] }), {
    code: BAD_INPUT,
  });
  t.throws(() => encodeInclusionProof({ leafIndex: 0, treeSize: 1, path: [new Uint8Array(3)] }), {
    code: BAD_INPUT,
    message: /path\[0\]/,
  });
});

t.test(
  'CBOR integers beyond 32 bits keep an integer head (cbor-x alone writes float64)',
  async (t) => {
    t.equal(toHex(encodeCbor(2 ** 32)), '1b0000000100000000');
    t.equal(toHex(encodeCbor(1_732_500_000_000)), '1b00000193610c0d00');
    t.equal(toHex(encodeCbor(Number.MAX_SAFE_INTEGER)), '1b001fffffffffffff');
    t.equal(toHex(encodeCbor(-(2 ** 40))), '3b000000ffffffffff');
    t.equal(toHex(encodeCbor(0xffffffff)), '1affffffff');
    t.equal(toHex(encodeCbor(-0)), '00');
    t.throws(() => encodeCbor(1.5), { code: BAD_INPUT });
    t.throws(() => encodeCbor([Number.NaN]), { code: BAD_INPUT });
    const c = (b: Uint8Array) => {
      const r = decodeConsistencyProof(b);
      return r.ok ? 'ok' : r.check;
    };
    // The same size as a float64 is refused: only the integer encoding is canonical.
    t.equal(c(fromHex('8301fb41f000000000000080')), 'non-canonical');
    t.equal(c(fromHex('83011b000000010000000080')), 'ok');
    const r = decodeConsistencyProof(fromHex('83011b000000010000000080'));
    t.equal(r.ok && r.proof.size2, 2 ** 32, 'decoded as a number');
  },
);
