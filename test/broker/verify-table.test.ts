/**
 * Must show (issue 15): one table of edits drives both the auditor's verifier (the
 * engine of `medchain verify`) and the replica's (ChainVerifier, what a replica runs on
 * every feed item before storing it), and both give the same verdict: the same check
 * at the same height, or both accept.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ChainStore } from '../../broker/chain-store.js';
import { type ExportItem, encodeItem, writeExport } from '../../broker/export.js';
import { verifyExport } from '../../broker/export-verify.js';
import { ChainVerifier } from '../../broker/replica-verify.js';
import { Trust } from '../../broker/trust.js';
import { ZERO_HASH } from '../../core/block.js';
import { toHex } from '../../core/bytes.js';
import { concatBytes } from '../../core/det-cbor.js';
import { kidOfCertificate } from '../../core/kid.js';
import { MerkleBuilder } from '../../core/merkle-builder.js';
import { signReceipt } from '../../core/receipt.js';
import { createTestPki } from '../helpers/pki.js';
import { BlockMaker, startNotary, tempDir } from './helpers.js';
import { items } from './tamper-fixture.js';

const pki = await createTestPki(t);
const me = await pki.participant('notary', 'notary-1');
const gw1 = await pki.participant('gateway', 'gw-1');
const gw2 = await pki.participant('gateway', 'gw-2');
const other = await pki.participant('notary', 'notary-2');

const dbPath = join(tempDir(t), 'chain.db');
{
  const notary = await startNotary(t, pki, me, [gw1, gw2], { dbPath });
  const makers = [
    new BlockMaker('gw-1', await pki.signer(gw1)),
    new BlockMaker('gw-2', await pki.signer(gw2)),
  ];
  for (let i = 0; i < 8; i++) {
    const m = makers[i % 2]!;
    const ans = await notary.registrar.submit(m.gatewayId, (await m.next()).bytes);
    if (ans.kind !== 'registered') throw new Error(JSON.stringify(ans));
  }
  await notary.stop();
}
const out = join(tempDir(t), 'chain.cbor');
const store = await ChainStore.open(dbPath);
await writeExport(store, out);
await store.close();
const base = items(new Uint8Array(readFileSync(out)));
const otherSigner = await pki.signer(other);

type Entry = Extract<ExportItem, { kind: 'entry' }>;
const flip = (b: Uint8Array, at: number) => {
  const c = b.slice();
  const i = at < 0 ? c.length + at : at;
  c[i]! ^= 0x01;
  return c;
};

type Edit = (e: readonly Entry[]) => Entry[] | Promise<Entry[]>;
/** Replaces the entry at `height` by `f` of it. */
const at =
  (height: number, f: (e: Entry) => Entry | Promise<Entry>): Edit =>
  async (list) => {
    const out = [...list];
    out[height - 1] = await f(list[height - 1]!);
    return out;
  };

/** Edits of the entries; `null` is the untouched chain. */
const table: [string, Edit | null][] = [
  ['untouched', null],
  ['entry byte of height 5', at(5, (e) => ({ ...e, entry: flip(e.entry, 6) }))],
  ['signed header of height 5', at(5, (e) => ({ ...e, signedHeader: flip(e.signedHeader, -3) }))],
  ['body of height 5', at(5, (e) => ({ ...e, body: flip(e.body, 40) }))],
  ['receipt of height 5', at(5, (e) => ({ ...e, receipt: flip(e.receipt!, -1) }))],
  ['body removed without erasure at 6', at(6, (e) => ({ ...e, body: new Uint8Array() }))],
  ['erasure logged, body kept at 6', at(6, (e) => ({ ...e, erased: { at: 1, reason: 'x' } }))],
  [
    'heights 3 and 4 swapped',
    (list) => {
      const out = [...list];
      out[2] = { ...list[3]!, height: 3 };
      out[3] = { ...list[2]!, height: 4 };
      return out;
    },
  ],
  [
    'receipt of height 7 signed by another notary',
    at(7, async (e) => ({
      ...e,
      receipt: await signReceipt(otherSigner, 'notary-1', e.entry, new Uint8Array(32)),
    })),
  ],
];

const certs = new Map(
  base.flatMap((i) =>
    i.kind === 'certificate' ? [[toHex(kidOfCertificate(i.der)), i.der] as const] : [],
  ),
);
certs.set(toHex(kidOfCertificate(other.signing.der)), other.signing.der);

for (const [name, edit] of table) {
  t.test(name, async (t) => {
    const original = base.filter((i): i is Entry => i.kind === 'entry');
    const entries = edit ? await edit(original) : original;
    // The auditor: the export with these entries (and the notary's other items).
    const list = base.map((i) => (i.kind === 'entry' ? entries[i.height - 1]! : i));
    // Both verifiers can find notary-2's certificate (the replica asks for it by kid).
    const extra: ExportItem = { kind: 'certificate', der: other.signing.der };
    const bytes = concatBytes([list[0]!, list[1]!, extra, ...list.slice(2)].map(encodeItem));
    const audit = await verifyExport(bytes, { root: pki.rootPem });
    // The replica: the same entries as feed items, from an empty copy.
    const replica = new ChainVerifier({
      notaryId: 'notary-1',
      trust: new Trust({ root: pki.rootPem }),
      certificate: async (kid) => certs.get(toHex(kid)),
    });
    const run = await replica.verifyRun(entries, {
      size: 0,
      head: ZERO_HASH,
      builder: new MerkleBuilder(),
      gateway: () => undefined,
    });
    const auditVerdict = audit.ok ? 'ok' : `${audit.check} at ${audit.height}`;
    const replicaVerdict = run.error ? `${run.error.check} at ${run.error.height}` : 'ok';
    t.equal(replicaVerdict, auditVerdict, `both say: ${auditVerdict}`);
    if (edit === null) t.equal(auditVerdict, 'ok');
    else t.not(auditVerdict, 'ok', 'the edit is caught');
  });
}
