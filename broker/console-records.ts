/**
 * Notary console: the chain's records beside the entries — signed checkpoints, anchors
 * into the regional chain (with the regional notary's receipt read out), equivocation
 * evidence (both signed headers of one gateway seq) and Trent's CRLs with the
 * certificates they revoke, matched against the certificates this chain names.
 */
import { X509Crl, X509CrlReason } from '../ca/x509.js';
import { decodeBlock, decodeBlockHeader } from '../core/block.js';
import { toHex } from '../core/bytes.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { decodeReceiptPayload } from '../core/receipt.js';
import { fields, type Html, html, iso, table, verdict } from '../ops/html.js';
import type { ChainStore } from './chain-store.js';
import { certSummary, checkpointOf, entryLink, hex, signedBy } from './console-view.js';
import { storedCrls } from './crl-log.js';

/** Rows of each list page: the most recent ones (the export has them all). */
const RECENT = 100;
/** CRLs shown, newest first. */
const RECENT_CRLS = 20;

export async function checkpointsPage(store: ChainStore): Promise<Html> {
  const certs = await store.certificates();
  const rows = await store.recentCheckpoints(RECENT);
  return html`<p>the ${RECENT} most recent, newest first</p>${table(
    ['size', 'time (signed)', 'head H(size)', 'Merkle root', 'signature'],
    rows.map((r) => {
      const c = checkpointOf(r.checkpoint);
      const sig = signedBy(r.checkpoint, certs);
      return c
        ? [entryLink(c.size), iso(c.time), hex(c.head), hex(c.logRoot), verdict(sig.ok, sig.text)]
        : [r.size, iso(r.at), '', '', verdict(false, 'does not decode')];
    }),
  )}`;
}

export async function anchorsPage(store: ChainStore): Promise<Html> {
  const anchors = await store.recentAnchors(RECENT);
  return html`<p>the ${RECENT} most recent of this chain's checkpoints submitted as blocks to the regional notary, newest first</p>${table(
    [
      'anchor seq',
      'checkpoint size',
      'anchored head',
      'regional notary',
      'regional height',
      'registered there',
    ],
    anchors.map((a) => {
      const blk = decodeBlock(a.block);
      const cp = blk.ok ? checkpointOf(blk.value.body) : undefined;
      const rec = a.receipt ? decodeSign1(a.receipt) : undefined;
      const r = rec?.ok ? decodeReceiptPayload(rec.msg.payload) : undefined;
      return [
        a.upstreamSeq,
        entryLink(a.size),
        cp ? hex(cp.head) : '',
        r?.ok
          ? r.value.notaryId
          : a.receipt
            ? verdict(false, 'receipt does not decode')
            : 'receipt pending',
        r?.ok ? r.value.entry.height : '',
        r?.ok ? iso(r.value.entry.registeredAt) : '',
      ];
    }),
  )}`;
}

function header(signed: Uint8Array): string {
  const d = decodeSign1(signed);
  const h = d.ok ? decodeBlockHeader(d.msg.payload) : undefined;
  if (!h?.ok) return 'does not decode';
  const v = h.value;
  return `seq ${v.seq}, ${v.count} readings, sealed ${iso(v.sealedAt)}, body hash ${toHex(v.bodyHash)}`;
}

export async function equivocationsPage(store: ChainStore): Promise<Html> {
  const certs = await store.certificates();
  const list = await store.equivocations();
  return html`<p>a gateway that signed two different headers for one sequence number: both are kept as evidence</p>${table(
    [
      'gateway',
      'seq',
      'registered (height)',
      'registered header',
      'conflicting header',
      'conflicting signature',
    ],
    list.map((e) => {
      const sig = signedBy(e.conflicting, certs);
      return [
        e.gateway,
        e.seq,
        entryLink(e.height),
        header(e.registered),
        header(e.conflicting),
        verdict(sig.ok, sig.text),
      ];
    }),
  )}`;
}

export async function crlsPage(store: ChainStore): Promise<Html> {
  const known = new Map((await store.certificates()).map((c) => [certSummary(c.der).serial, c]));
  const out: Html[] = [];
  for (const stored of (await storedCrls(store.db)).reverse().slice(0, RECENT_CRLS)) {
    const crl = new X509Crl(stored.der);
    const revoked = crl.entries.map((e) => {
      const serial = e.serialNumber.toLowerCase();
      const cert = known.get(serial);
      const who = cert ? certSummary(cert.der) : undefined;
      return [
        html`<code>${serial}</code>`,
        iso(e.revocationDate.getTime()),
        e.reason === undefined ? 'unspecified' : X509CrlReason[e.reason],
        who
          ? `${who.role} ${who.id}`
          : html`<span class="muted">not a certificate this chain names</span>`,
        who ? hex(cert!.kid) : '',
      ];
    });
    out.push(
      html`<h2>CRL of ${iso(stored.thisUpdate)}</h2>${fields([
        ['issuer', crl.issuer],
        ['this update', iso(crl.thisUpdate.getTime())],
        ['next update', iso(crl.nextUpdate?.getTime())],
        ['revoked certificates', crl.entries.length],
      ])}${table(['serial', 'revoked at', 'reason', 'certificate', 'kid'], revoked)}`,
    );
  }
  if (out.length === 0) return html`<p class="muted">no CRL installed</p>`;
  return html`<p>the ${RECENT_CRLS} most recent CRLs the notary installed, newest first</p>${out}`;
}
