/**
 * Completing a batch a crash cut short (replica-store.ts stores entries, then receipts,
 * then erasures): each height left without its receipt or erasure record is fetched
 * again, its receipt verified against the stored entry bytes and the copy's log root
 * at that height, and the missing rows written. Nothing else of the copy changes.
 */
import { toHex } from '../core/bytes.js';
import { decodeEntry } from '../core/entry.js';
import { verifyReceipt } from '../core/receipt.js';
import { refused } from './replica-errors.js';
import type { NotarySource } from './replica-source.js';
import type { ReplicaStore } from './replica-store.js';
import type { ChainVerifier } from './replica-verify.js';

export async function completeCutShort(
  store: ReplicaStore,
  source: NotarySource,
  verifier: ChainVerifier,
): Promise<void> {
  const { chain } = store;
  for (const h of await store.incomplete()) {
    const stored = await chain.entry(h);
    const item = (await source.feed(h, h)).items[0];
    if (!stored || !item?.receipt) throw refused('receipt', h, 'the notary serves no receipt');
    const e = decodeEntry(stored.entryBytes);
    const at = e.ok ? e.value.registeredAt : 0;
    const key = await verifier.notaryKey(item.receipt, at, h, 'receipt');
    const r = verifyReceipt(item.receipt, key.key, key.kid);
    if (
      !r.ok ||
      toHex(r.value.entryBytes) !== toHex(stored.entryBytes) ||
      toHex(r.value.logRoot) !== toHex(await chain.rootAt(h))
    )
      throw refused('receipt', h, 'the receipt does not sign the stored entry and log root');
    await chain.putReceipts([{ height: h, receipt: item.receipt }], Date.now());
    if (item.erased) await chain.eraseBody(h, item.erased.reason, item.erased.at);
  }
}
