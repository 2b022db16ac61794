/**
 * Must show (issue 15): every row of the tampering table, applied as valid-CBOR
 * edits of a demo-sized export made by real notaries, fails with a named check (or, for
 * a cut at a size the notary signed, is caught once the upstream export is given).
 * Bit flips of every item: tamper-flips.test.ts; the same edits through the CLI:
 * tamper-cli.test.ts.
 */
import t from 'tap';
import type { ExportItem } from '../../broker/export.js';
import { verifyExport } from '../../broker/export-verify.js';
import { ZERO_HASH } from '../../core/block.js';
import { createTestPki } from '../helpers/pki.js';
import { BlockMaker } from './helpers.js';
import { editEntry, encode, items, makeTamperFixture, relink } from './tamper-fixture.js';

const pki = await createTestPki(t);
const inst = await pki.participant('notary', 'notary-1');
const region = await pki.participant('notary', 'regional');
const gws = [
  await pki.participant('gateway', 'gw-1'),
  await pki.participant('gateway', 'gw-2'),
] as const;
const fx = await makeTamperFixture(t, pki, { inst, region, gws });
const all = items(fx.institution);
const verify = (bytes: Uint8Array, upstream = false) =>
  verifyExport(bytes, { root: pki.rootPem, ...(upstream ? { upstream: [fx.regional] } : {}) });
const receipted = all.filter((i) => i.kind === 'anchor' && i.receipt).length;

/** The export cut at `size`, header and end rewritten, later checkpoints and anchors dropped. */
function cut(size: number): Uint8Array {
  const kept = all.filter(
    (i) =>
      !(i.kind === 'entry' && i.height > size) &&
      !(i.kind === 'checkpoint' && i.size > size) &&
      !(i.kind === 'anchor' && i.size > size),
  );
  return encode(relink(kept));
}

const unsigned = (list: readonly ExportItem[]) =>
  list
    .filter((i) => i.kind !== 'checkpoint' && i.kind !== 'anchor')
    .map((i) => (i.kind === 'entry' ? { ...i, receipt: undefined } : i));

t.test('the untouched exports verify, with and without the upstream', async (t) => {
  t.equal(all.filter((i) => i.kind === 'entry').length, 56);
  t.equal(fx.checkpointSizes.at(-1), 56, 'the export ends in a checkpoint at its size');
  t.ok(fx.anchoredSize >= 50, `anchored up to ${fx.anchoredSize}`);
  t.match(await verify(fx.institution), {
    ok: true,
    size: 56,
    erased: [3],
    equivocations: 1,
    anchors: { receipted: receipted },
  });
  t.match(await verify(fx.institution, true), {
    ok: true,
    heldCheckpoint: fx.anchoredSize,
    anchors: { followed: receipted, coveredHeights: fx.anchoredSize },
  });
  t.match(await verify(fx.regional), { ok: true, notaryId: 'regional' });
});

t.test('truncated, header and end rewritten', async (t) => {
  const unsignedSize = [53, 52, 51].find((s) => !fx.checkpointSizes.includes(s))!;
  t.match(
    await verify(cut(unsignedSize)),
    { ok: false, check: 'extent', expected: String(unsignedSize) },
    'cut at a size the notary never signed: no checkpoint states it',
  );
  // Cut at a size the notary did sign (a checkpoint it made on the way): the file alone
  // cannot tell; the upstream holds a larger checkpoint of this notary.
  const signed = fx.checkpointSizes.filter((s) => s < fx.anchoredSize).at(-1)!;
  t.match(
    await verify(cut(signed)),
    { ok: true, size: signed },
    'alone it is a valid older export',
  );
  t.match(await verify(cut(signed), true), {
    ok: false,
    check: 'truncated',
    height: signed,
    expected: String(fx.anchoredSize),
    actual: String(signed),
  });
  const v = await verify(cut(signed), true);
  t.match(v.ok ? '' : v.detail, new RegExp(`size ${fx.anchoredSize}; the export has ${signed}`));
  const witness = all.find((i) => i.kind === 'checkpoint' && i.size === 56);
  if (witness?.kind !== 'checkpoint') return t.fail('checkpoint 56');
  t.match(
    await verifyExport(cut(signed), { root: pki.rootPem, checkpoints: [witness.checkpoint] }),
    { ok: false, check: 'truncated', expected: '56' },
    'a witness holding a later checkpoint catches it too',
  );
});

t.test('receipts, checkpoints and anchors stripped, then entries edited', async (t) => {
  t.match(await verify(encode(unsigned(all))), { ok: false, check: 'extent', actual: 'none' });
  // registeredAt of entry 20 moved by 60 s, the chain re-linked.
  const moved = relink(
    unsigned(all).map((i) =>
      i.kind === 'entry' && i.height === 20
        ? editEntry(i, (d) => ({ ...d.value, registeredAt: d.value.registeredAt + 60_000 }))
        : i,
    ),
  );
  t.match(await verify(encode(moved)), { ok: false, check: 'extent' });
  // The entries of two gateways swapped (heights 10 and 11), the chain re-linked.
  const list = unsigned(all);
  const ix = list.findIndex((i) => i.kind === 'entry' && i.height === 10);
  const a = list[ix]!;
  const b = list[ix + 1]!;
  if (a.kind !== 'entry' || b.kind !== 'entry') return t.fail('entries');
  const swapped = [...list];
  swapped[ix] = { ...b, height: 10 };
  swapped[ix + 1] = { ...a, height: 11 };
  t.match(await verify(encode(relink(swapped))), { ok: false, check: 'extent' });
  // Keeping the checkpoints does not help: the edit changes the heads they sign.
  const keep = relink(
    all.map((i) =>
      i.kind === 'entry'
        ? {
            ...(i.height === 20
              ? editEntry(i, (d) => ({ ...d.value, registeredAt: d.value.registeredAt + 60_000 }))
              : i),
            receipt: undefined,
          }
        : i,
    ),
  );
  t.match(await verify(encode(keep)), { ok: false, check: 'checkpoint', height: 20 });
  // Dropping only a receipt in the middle: only a crash tail may lack receipts.
  const gap = all.map((i) =>
    i.kind === 'entry' && i.height === 30 ? { ...i, receipt: undefined } : i,
  );
  t.match(await verify(encode(gap)), { ok: false, check: 'extent', height: 30 });
  const tail = all.map((i) =>
    i.kind === 'entry' && i.height >= 55 ? { ...i, receipt: undefined } : i,
  );
  t.match(await verify(encode(tail)), { ok: true, unreceipted: [55, 56] }, 'a tail is allowed');
});

t.test('forged equivocation evidence', async (t) => {
  const real = all.find((i) => i.kind === 'equivocation');
  if (real?.kind !== 'equivocation') return t.fail('the fixture has one');
  const withItem = (e: ExportItem) => {
    const at = all.findIndex((i) => i.kind === 'anchor');
    return encode([...all.slice(0, at), e, ...all.slice(at)]);
  };
  const garbage = Uint8Array.from(real.conflicting);
  garbage.fill(0x41, 20, 60);
  t.match(await verify(withItem({ ...real, conflicting: garbage })), {
    ok: false,
    check: 'equivocation',
  });
  t.match(await verify(withItem({ ...real, seq: 3 })), { ok: false, check: 'equivocation' });
  t.match(
    await verify(withItem({ ...real, conflicting: real.registered })),
    { ok: false, check: 'equivocation', detail: /same header bytes/ },
    'the registered header twice is no evidence',
  );
  // gw-9 is a real gateway with a real certificate, but has no block in the chain.
  const gw9 = await pki.participant('gateway', 'gw-9');
  const m9 = new BlockMaker('gw-9', await pki.signer(gw9));
  const h1 = (await m9.seal()).block.signedHeader;
  const h2 = (await m9.seal({ salt: 1 })).block.signedHeader;
  t.match(
    await verify(
      withItem({ kind: 'equivocation', gateway: 'gw-9', seq: 1, registered: h1, conflicting: h2 }),
    ),
    { ok: false, check: 'equivocation', detail: /gw-9 has no block with seq 1/ },
  );
  // gw-2 signing a header that claims to be gw-1's: not gw-1's statement.
  const m2 = new BlockMaker('gw-1', await pki.signer(gws[1]));
  const fake = (await m2.seal({ seq: 2, prev: ZERO_HASH })).block.signedHeader;
  t.match(await verify(withItem({ ...real, conflicting: fake })), {
    ok: false,
    check: 'equivocation',
  });
});

t.test('unsigned size fields of checkpoint and anchor items', async (t) => {
  const edit = (pred: (i: ExportItem) => boolean, f: (i: ExportItem) => ExportItem) =>
    encode(all.map((i) => (pred(i) ? f(i) : i)));
  const cp = (i: ExportItem) => i.kind === 'checkpoint' && i.size === 20;
  t.match(await verify(edit(cp, (i) => ({ ...i, size: 21 }) as ExportItem)), {
    ok: false,
    check: 'checkpoint',
    expected: '20',
    actual: '21',
  });
  const an = (i: ExportItem) => i.kind === 'anchor' && i.upstreamSeq === 2;
  t.match(await verify(edit(an, (i) => ({ ...i, size: 21 }) as ExportItem)), {
    ok: false,
    check: 'anchor',
  });
  t.match(await verify(edit(an, (i) => ({ ...i, upstreamSeq: 9 }) as ExportItem)), {
    ok: false,
    check: 'anchor',
  });
});

t.test("every byte of an anchor's regional receipt, without --upstream", async (t) => {
  const a = all.find((i) => i.kind === 'anchor' && i.receipt);
  if (a?.kind !== 'anchor' || !a.receipt) return t.fail('a receipted anchor');
  const at = Buffer.from(fx.institution).indexOf(Buffer.from(a.receipt));
  const passed: number[] = [];
  const checks = new Set<string>();
  for (let k = 0; k < a.receipt.length; k++) {
    const copy = fx.institution.slice();
    copy[at + k]! ^= 1 << (k % 8);
    const v = await verify(copy);
    if (v.ok) passed.push(k);
    else checks.add(v.check);
  }
  t.same(passed, [], `all ${a.receipt.length} flipped bytes fail`);
  t.ok(
    [...checks].every((c) => c === 'anchor' || c === 'format'),
    [...checks].join(),
  );
});
