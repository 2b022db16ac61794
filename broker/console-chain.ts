/**
 * Notary console: the chain browsed by height, by gateway and by time, and the
 * overview. Pages show entries and signed headers' metadata, never a block body.
 */
import { ConsoleError, fields, type Html, html, iso, link, table } from '../ops/html.js';
import type { ChainStore } from './chain-store.js';
import { checkpointOf, entryLink, hex, PAGE, positive } from './console-view.js';

export async function overviewPage(store: ChainStore, notaryId: string): Promise<Html> {
  const snap = store.snapshot();
  const latest = await store.latestCheckpoint();
  const cp = latest ? checkpointOf(latest.checkpoint) : undefined;
  const anchored = await store.anchoredSize();
  const last = await store.entries(Math.max(1, snap.size - 9), snap.size);
  return html`${fields([
    ['notary', notaryId],
    ['chain size', snap.size],
    ['head H(n)', hex(snap.head)],
    ['Merkle root', hex(snap.root)],
    [
      'latest checkpoint',
      cp
        ? html`size ${cp.size} at ${iso(cp.time)} ${link('/console/checkpoints', 'all')}`
        : 'none yet',
    ],
    ['anchored into the regional chain up to', anchored === 0 ? 'none' : html`height ${anchored}`],
    ['gateways', store.gatewayStates().length],
  ])}
<h2>Find</h2>
<form action="/console/entry/go" method="get"><label>height <input name="height" size="8"></label><button>open</button></form>
<form action="/console/time" method="get"><label>registered at or after (ISO 8601, UTC) <input name="at" size="26" placeholder="2026-12-06T02:00:00Z"></label><button>browse</button></form>
<h2>Latest entries</h2>
${entryTable(last.reverse().map((e) => ({ height: e.height, gateway: e.entry.submitter, at: e.entry.registeredAt, internal: e.entry.internal })))}`;
}

interface Row {
  readonly height: number;
  readonly gateway: string;
  readonly at: number;
  readonly internal: Uint8Array;
  readonly seq?: number;
}

function entryTable(rows: readonly Row[]): Html {
  return table(
    ['height', 'gateway', 'registered', 'h(n) (signed header hash)'],
    rows.map((r) => [
      entryLink(r.height),
      link(`/console/gateway/${encodeURIComponent(r.gateway)}`, r.gateway),
      iso(r.at),
      hex(r.internal),
    ]),
  );
}

/** Entries from height `from` on, PAGE per page, with links to the neighbouring pages. */
export async function entriesPage(store: ChainStore, q: URLSearchParams): Promise<Html> {
  const size = store.size;
  const from = positive(q.get('from'), 'from', Math.max(1, size - PAGE + 1));
  if (size > 0 && from > size)
    throw new ConsoleError(404, `no entry at height ${from} (the chain has ${size})`);
  const to = Math.min(size, from + PAGE - 1);
  const rows = size === 0 ? [] : await store.entries(from, to);
  const prev =
    from > 1 ? link(`/console/entries?from=${Math.max(1, from - PAGE)}`, '« earlier') : '';
  const next = to < size ? link(`/console/entries?from=${to + 1}`, 'later »') : '';
  return html`<p>heights ${rows.length ? `${from}–${to}` : 'none'} of ${size} ${prev} ${next}</p>
${entryTable(rows.map((e) => ({ height: e.height, gateway: e.entry.submitter, at: e.entry.registeredAt, internal: e.entry.internal })))}`;
}

export function gatewaysPage(store: ChainStore): Html {
  return table(
    ['gateway', 'last seq', 'last height', 'last h'],
    store
      .gatewayStates()
      .map(([id, s]) => [
        link(`/console/gateway/${encodeURIComponent(id)}`, id),
        s.lastSeq,
        entryLink(s.lastHeight),
        hex(s.lastHash),
      ]),
  );
}

export async function gatewayPage(
  store: ChainStore,
  id: string,
  q: URLSearchParams,
): Promise<Html> {
  const state = store.gateway(id);
  if (!state) throw new ConsoleError(404, `no gateway '${id}' has registered a block here`);
  const from = positive(q.get('from'), 'from', Math.max(1, state.lastSeq - PAGE + 1));
  const rows = await store.gatewayBlocks(id, from, PAGE);
  const last = rows.at(-1)?.seq ?? from;
  const enc = encodeURIComponent(id);
  const prev =
    from > 1 ? link(`/console/gateway/${enc}?from=${Math.max(1, from - PAGE)}`, '« earlier') : '';
  const next =
    last < state.lastSeq ? link(`/console/gateway/${enc}?from=${last + 1}`, 'later »') : '';
  return html`${fields([
    ['gateway', id],
    ['blocks registered', state.lastSeq],
    ['last block h', hex(state.lastHash)],
  ])}<p>seq ${from}–${last} ${prev} ${next}</p>
${table(
  ['seq', 'height', 'registered'],
  rows.map((r) => [r.seq, entryLink(r.height), iso(r.registeredAt)]),
)}`;
}

/** ISO 8601 time → the first height registered at or after it (a redirect target). */
export async function heightAtTime(store: ChainStore, q: URLSearchParams): Promise<number> {
  const at = q.get('at') ?? '';
  const ms = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+)?(Z|[+-]\d{2}:?\d{2})?$/.test(at.trim())
    ? Date.parse(at.trim())
    : Number.NaN;
  if (!Number.isFinite(ms))
    throw new ConsoleError(400, `'at' must be an ISO 8601 time, not '${at.slice(0, 40)}'`);
  const h = await store.firstHeightAt(ms);
  if (h === undefined)
    throw new ConsoleError(404, `nothing registered at or after ${new Date(ms).toISOString()}`);
  return h;
}
