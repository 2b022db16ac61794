import { randomBytes } from 'node:crypto';
import t from 'tap';
import { encodeDet } from '../../core/det-cbor.js';
import { decodeAnswer, encodeAnswer, RefusalReason, topics } from '../../core/submit.js';

t.test('answers round-trip', async (t) => {
  const receipt = randomBytes(120);
  const ok = decodeAnswer(encodeAnswer({ kind: 'registered', seq: 5, receipt }));
  t.match(ok, { ok: true, value: { kind: 'registered', seq: 5 } });
  t.same(ok.ok && ok.value.kind === 'registered' && Buffer.from(ok.value.receipt), receipt);
  const refused = decodeAnswer(
    encodeAnswer({
      kind: 'refused',
      seq: 9,
      reason: RefusalReason.Gap,
      detail: 'expected 7',
      expectedSeq: 7,
    }),
  );
  t.match(refused, { ok: true, value: { kind: 'refused', seq: 9, reason: 'gap', expectedSeq: 7 } });
});

t.test('malformed answers are refused with the field named', async (t) => {
  t.match(decodeAnswer(encodeDet([1, 5, 0, randomBytes(3), 'x', 1])), {
    ok: false,
    field: 'status',
  });
  t.match(decodeAnswer(encodeDet([1, 5, 2, 'gap', 'x', 1])), { ok: false, field: 'status' });
  t.match(decodeAnswer(encodeDet([1, 5, 1, 'nonsense', 'x', 1])), { ok: false, field: 'reason' });
  t.match(decodeAnswer(encodeDet([2, 5, 0, randomBytes(3)])), { ok: false, field: 'version' });
  t.match(decodeAnswer(encodeDet([1, 0, 0, randomBytes(3)])), { ok: false, field: 'seq' });
  t.match(decodeAnswer(randomBytes(2)), { ok: false });
});

t.test('topics follow DESIGN §5', async (t) => {
  t.equal(topics.submit('n1', 'gw-1'), 'med/v1/notary/n1/submit/gw-1');
  t.equal(topics.receipt('n1', 'gw-1'), 'med/v1/notary/n1/receipt/gw-1');
  t.equal(topics.deviceObs('ox-1'), 'med/v1/dev/ox-1/obs');
});
