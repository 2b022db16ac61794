/**
 * Notary console: one entry in readable form — the entry as signed, the registered
 * block's header (never its body: only its size and hash), the receipt, the RFC 9162
 * inclusion proof in the current tree checked against the current root, and the
 * regional anchor that covers it.
 */
import { decodeBlockHeader } from '../core/block.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { leafHash } from '../core/merkle.js';
import { verifyInclusion } from '../core/merkle-verify.js';
import { decodeReceiptPayload } from '../core/receipt.js';
import { ConsoleError, fields, type Html, html, iso, link, table, verdict } from '../ops/html.js';
import type { ChainStore } from './chain-store.js';
import { entryLink, hex, signedBy } from './console-view.js';

export async function entryPage(store: ChainStore, height: number): Promise<Html> {
  const e = await store.entry(height);
  const b = await store.block(height);
  if (!e || !b) throw new ConsoleError(404, `no entry at height ${height}`);
  const certs = await store.certificates();
  const receipt = await store.receipt(height);
  const size = store.size;
  const proof = await store.inclusionProof(height, size);
  const root = await store.rootAt(size);
  const included = verifyInclusion(height - 1, size, leafHash(e.entryHash), proof, root);
  const anchor = await store.anchorCovering(height);
  const nav = html`<p>${height > 1 ? entryLink(height - 1) : ''} ‹ height ${height} › ${
    height < size ? entryLink(height + 1) : ''
  }</p>`;
  return html`${nav}<h2>Entry</h2>${fields([
    ['height', e.entry.height],
    ['H(n) (entry hash)', hex(e.entryHash)],
    [
      'previous H(n-1)',
      height > 1 ? html`${hex(e.entry.prev)} (${entryLink(height - 1)})` : hex(e.entry.prev),
    ],
    ['h(n) (internal hash)', hex(e.entry.internal)],
    [
      'submitted by',
      link(`/console/gateway/${encodeURIComponent(e.entry.submitter)}`, e.entry.submitter),
    ],
    ['registered at', iso(e.entry.registeredAt)],
    ['Merkle root after it', hex(e.logRoot)],
  ])}
<h2>Block header</h2>${headerFields(b.signedHeader, certs)}
${fields([
  [
    'body',
    b.erased
      ? html`erased at ${iso(b.erased.at)}: ${b.erased.reason}`
      : `${b.body.length} bytes, encrypted for the readers (not shown)`,
  ],
  ['body hash', hex(b.bodyHash)],
])}
<h2>Receipt</h2>${receipt ? receiptFields(receipt, certs) : html`<p class="bad">no receipt yet</p>`}
<h2>Inclusion proof</h2>${fields([
    ['tree size', size],
    ['leaf index', height - 1],
    ['leaf hash', hex(leafHash(e.entryHash))],
    ['root', hex(root)],
    [
      'check',
      included.ok ? verdict(true, 'the path leads to the root') : verdict(false, included.detail),
    ],
  ])}${table(
    ['step', 'sibling hash'],
    proof.map((p, i) => [i + 1, hex(p)]),
  )}
<h2>Regional anchor</h2>${
    anchor
      ? html`<p>covered by anchor ${link('/console/anchors', `#${anchor.upstreamSeq}`)} (checkpoint of size ${anchor.size}${anchor.receipt ? ', receipted by the regional notary' : ', receipt pending'})</p>`
      : html`<p class="muted">not anchored yet</p>`
  }`;
}

function headerFields(
  signed: Uint8Array,
  certs: readonly { kid: Uint8Array; der: Uint8Array }[],
): Html {
  const d = decodeSign1(signed);
  if (!d.ok) return html`<p class="bad">signed header does not decode: ${d.detail}</p>`;
  const h = decodeBlockHeader(d.msg.payload);
  if (!h.ok) return html`<p class="bad">block header does not decode: ${h.detail}</p>`;
  const sig = signedBy(signed, certs);
  return fields([
    ['gateway', h.value.gatewayId],
    ['seq', h.value.seq],
    ['prev h', hex(h.value.prev)],
    ['readings', h.value.count],
    ['readings Merkle root', hex(h.value.root)],
    ['sealed at (gateway clock)', iso(h.value.sealedAt)],
    ['signature', verdict(sig.ok, sig.text)],
  ]);
}

function receiptFields(
  bytes: Uint8Array,
  certs: readonly { kid: Uint8Array; der: Uint8Array }[],
): Html {
  const d = decodeSign1(bytes);
  if (!d.ok) return html`<p class="bad">receipt does not decode: ${d.detail}</p>`;
  const r = decodeReceiptPayload(d.msg.payload);
  if (!r.ok) return html`<p class="bad">receipt does not decode: ${r.detail}</p>`;
  const sig = signedBy(bytes, certs);
  return fields([
    ['notary', r.value.notaryId],
    ['height', r.value.entry.height],
    ['entry hash', hex(r.value.entryHash)],
    ['Merkle root', hex(r.value.logRoot)],
    ['size', `${bytes.length} bytes (COSE_Sign1)`],
    ['signature', verdict(sig.ok, sig.text)],
  ]);
}
