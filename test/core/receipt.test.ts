import { randomBytes } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import t from 'tap';
import { decodeEntry, type Entry, encodeEntry, entryHash } from '../../core/entry.js';
import {
  decodeCheckpointPayload,
  signCheckpoint,
  signReceipt,
  verifyCheckpoint,
  verifyReceipt,
} from '../../core/receipt.js';
import { softwareSigner } from '../../core/signer.js';

const notary = softwareSigner(p256.utils.randomSecretKey(), new TextEncoder().encode('notary-1'));
const mallory = softwareSigner(p256.utils.randomSecretKey(), new TextEncoder().encode('notary-1'));

const entry: Entry = {
  height: 7,
  prev: randomBytes(32),
  internal: randomBytes(32),
  submitter: 'gw-1',
  registeredAt: Date.UTC(2026, 10, 25),
};

t.test('entries round-trip and H(n) covers every byte', async (t) => {
  const bytes = encodeEntry(entry);
  const d = decodeEntry(bytes);
  t.ok(d.ok);
  t.same(d.ok && { ...d.value }, { ...entry, prev: entry.prev, internal: entry.internal });
  const h = Buffer.from(entryHash(bytes));
  for (let i = 0; i < bytes.length; i++) {
    const bad = Uint8Array.from(bytes);
    bad[i]! ^= 0x04;
    t.not(Buffer.from(entryHash(bad)).toString('hex'), h.toString('hex'));
  }
  t.match(decodeEntry(encodeEntry({ ...entry, submitter: 'no/slash' })), {
    ok: false,
    field: 'submitter',
  });
  t.match(decodeEntry(encodeEntry({ ...entry, height: 0 })), { ok: false, field: 'height' });
  t.match(decodeEntry(bytes.subarray(0, bytes.length - 1)), { ok: false, check: 'cbor' });
});

t.test('a receipt verifies against the notary key only, and names the entry', async (t) => {
  const entryBytes = encodeEntry(entry);
  const logRoot = randomBytes(32);
  const receipt = await signReceipt(notary, 'notary-1', entryBytes, logRoot);
  const r = verifyReceipt(receipt, notary.publicKey, notary.kid);
  t.ok(r.ok);
  if (!r.ok) return;
  t.equal(r.value.notaryId, 'notary-1');
  t.equal(r.value.entry.height, 7);
  t.same(Buffer.from(r.value.entry.internal), Buffer.from(entry.internal));
  t.same(Buffer.from(r.value.entryHash), Buffer.from(entryHash(entryBytes)));
  t.same(Buffer.from(r.value.logRoot), Buffer.from(logRoot));
  t.match(
    verifyReceipt(receipt, mallory.publicKey),
    { ok: false, check: 'signature' },
    'forged key',
  );
  const forged = await signReceipt(mallory, 'notary-1', entryBytes, logRoot);
  t.match(verifyReceipt(forged, notary.publicKey), { ok: false, check: 'signature' });
});

t.test('a receipt is never taken for a checkpoint, nor the reverse', async (t) => {
  const cp = {
    notaryId: 'notary-1',
    size: 7,
    head: randomBytes(32),
    logRoot: randomBytes(32),
    time: 1,
  };
  const signedCp = await signCheckpoint(notary, cp);
  const v = verifyCheckpoint(signedCp, notary.publicKey);
  t.ok(v.ok && v.value.size === 7);
  t.match(verifyReceipt(signedCp, notary.publicKey), { ok: false, check: 'payload' });
  const receipt = await signReceipt(notary, 'notary-1', encodeEntry(entry), randomBytes(32));
  t.match(verifyCheckpoint(receipt, notary.publicKey), { ok: false, check: 'payload' });
  t.match(decodeCheckpointPayload(randomBytes(40)), { ok: false });
});
