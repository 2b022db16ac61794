/**
 * Read-only HTTP API, as transparency logs offer (RFC 9162 §4 in spirit), JSON with
 * base64 (standard, padded) byte fields. Heights are 1-based; the Merkle leaf of
 * entry n is leafHash(H(n)) at index n-1.
 *
 *   GET /checkpoint                         { checkpoint }   (latest signed, COSE_Sign1)
 *   GET /entries?from=&to=                  { entries: [{ height, entry, entryHash, receipt|null }] }  (≤ 1000)
 *   GET /proof/inclusion?height=[&size=]    { height, size, entryHash, leafIndex, proof[], root }
 *   GET /proof/inclusion?internal=hex[&size=]   same, by h(n)
 *   GET /proof/consistency?from=&to=        { from, to, proof[], root1, root2 }
 *   GET /block/{height}                     { height, gateway, seq, signedHeader, body, erased|null }
 *   GET /anchor?height=                     { height, upstreamSeq, size, block, receipt, proof[] }
 *                                           (the first upstream-receipted anchor covering height)
 *   GET /feed?from=&to=                     { size, items: [{ height, entry, signedHeader, body,
 *                                             erased: {at, reason}|null, receipt|null }] }
 *                                           (≤ 1000 items, ≤ 8 MiB of bodies but at least one item:
 *                                           the chain feed by range, for replicas catching up)
 *   GET /certificate/{kid hex}              { kid, der }  (a signing certificate the chain names)
 *   GET /openapi.json                       this API as OpenAPI 3.1 (broker/openapi.ts)
 *   GET /console[/...]                      the read-only web console, HTML (broker/console.ts)
 *   GET /metrics /healthz /readyz
 * Beside the base64 CBOR, answers carry what a person reads: hashes in hex (`…Hex`),
 * decoded times, sizes and ids (broker/http-plain.ts); the base64 fields stay as they were.
 * Errors: 400 (bad parameter), 404 (unknown height or hash), JSON { error }.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fromHex, toHex } from '../core/bytes.js';
import { STRUCTURE_DEFINITIONS } from '../fhir/structure-definitions.js';
import type { Logger } from '../ops/log.js';
import { anchorCovering } from './anchor-lookup.js';
import type { ChainStore } from './chain-store.js';
import { NotaryConsole } from './console.js';
import { BrokerCode, BrokerError } from './errors.js';
import { certificateFields, checkpointFields, entryFields } from './http-plain.js';
import type { NotaryMetrics } from './metrics.js';
import { NOTARY_OPENAPI } from './openapi.js';

export interface HttpApiOptions {
  readonly store: ChainStore;
  readonly metrics: NotaryMetrics;
  readonly latestCheckpoint: () => Uint8Array | undefined;
  readonly ready: () => boolean;
  /** Lines appended to the /readyz body: warnings that do not make the notary unready. */
  readonly readyNotes?: () => string[];
  /** Called before /metrics renders: gauges that depend on the clock are set then. */
  readonly beforeScrape?: () => void;
  readonly host?: string;
  readonly port: number;
  readonly log?: Logger | undefined;
}

const MAX_RANGE = 1000;
/** Body bytes per /feed answer: blocks may be up to 16 MiB each, answers stay bounded. */
const MAX_FEED_BYTES = 8 << 20;
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function intParam(q: URLSearchParams, name: string, fallback?: number): number {
  const v = q.get(name);
  if (v === null) {
    if (fallback !== undefined) return fallback;
    throw new HttpError(400, `missing parameter '${name}'`);
  }
  if (!/^\d{1,15}$/.test(v)) throw new HttpError(400, `'${name}' must be a non-negative integer`);
  return Number(v);
}

/** The StructureDefinition of one of medchain's FHIR extensions (docs/FHIR.md). */
function structureDefinition(path: string): Record<string, unknown> {
  const id = path.slice('/fhir/StructureDefinition/'.length);
  const sd = STRUCTURE_DEFINITIONS.get(id);
  if (sd === undefined) throw new HttpError(404, `no StructureDefinition ${id}`);
  return sd;
}

type Handler = (q: URLSearchParams, path: string) => Promise<unknown>;

export class HttpApi {
  readonly server: Server;
  readonly #o: HttpApiOptions;
  readonly #routes: [RegExp, Handler][];
  readonly #console: NotaryConsole;

  private constructor(o: HttpApiOptions) {
    this.#o = o;
    this.#console = new NotaryConsole(o.store, o.metrics.registry, o.log);
    this.#routes = [
      [/^\/checkpoint$/, () => this.#checkpoint()],
      [/^\/entries$/, (q) => this.#entries(q)],
      [/^\/proof\/inclusion$/, (q) => this.#inclusion(q)],
      [/^\/proof\/consistency$/, async (q) => this.#consistency(q)],
      [/^\/block\/\d+$/, (_q, p) => this.#block(Number(p.slice(7)))],
      [/^\/anchor$/, (q) => this.#anchor(q)],
      [/^\/feed$/, (q) => this.#feed(q)],
      [/^\/certificate\/[0-9a-f]{64}$/, (_q, p) => this.#certificate(p.slice(13))],
      [/^\/openapi\.json$/, async () => NOTARY_OPENAPI],
      [/^\/fhir\/StructureDefinition\/[a-z-]{1,64}$/, async (_q, p) => structureDefinition(p)],
    ];
    this.server = createServer((req, res) => void this.#handle(req, res));
  }

  static async start(o: HttpApiOptions): Promise<HttpApi> {
    const api = new HttpApi(o);
    api.server.listen(o.port, o.host ?? '127.0.0.1');
    await once(api.server, 'listening');
    return api;
  }

  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : this.#o.port;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://notary');
    try {
      if (req.method !== 'GET') throw new HttpError(405, 'read-only API: GET only');
      if (url.pathname === '/metrics') {
        this.#o.beforeScrape?.();
        const text = await this.#o.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': this.#o.metrics.registry.contentType }).end(text);
        return;
      }
      if (url.pathname === '/healthz') return void res.writeHead(200).end('ok\n');
      if (url.pathname === '/readyz') {
        const ok = this.#o.ready();
        const notes = (this.#o.readyNotes?.() ?? []).map((n) => `${n}\n`).join('');
        return void res.writeHead(ok ? 200 : 503).end(`${ok ? 'ready' : 'not ready'}\n${notes}`);
      }
      if (url.pathname === '/console' || url.pathname.startsWith('/console/')) {
        return await this.#console.handle(url, res);
      }
      const route = this.#routes.find(([re]) => re.test(url.pathname));
      if (!route) throw new HttpError(404, `no such resource: ${url.pathname}`);
      const body = await route[1](url.searchParams, url.pathname);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    } catch (err) {
      const status =
        err instanceof HttpError
          ? err.status
          : err instanceof BrokerError && err.code === 'NOTARY_BAD_REQUEST'
            ? 400
            : 500;
      if (status === 500) this.#o.log?.error({ err, url: req.url }, 'HTTP API failure');
      const message = status === 500 ? 'internal error' : (err as Error).message;
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: message }));
    }
  }

  async #checkpoint() {
    const c = this.#o.latestCheckpoint();
    if (!c) throw new HttpError(404, 'no checkpoint yet');
    return { checkpoint: b64(c), ...checkpointFields(c) };
  }

  async #entries(q: URLSearchParams) {
    const { store } = this.#o;
    const from = intParam(q, 'from', 1);
    const to = Math.min(intParam(q, 'to', store.size), store.size);
    if (from < 1 || to < from - 1) throw new HttpError(400, 'need 1 <= from <= to + 1');
    if (to - from + 1 > MAX_RANGE)
      throw new HttpError(400, `at most ${MAX_RANGE} entries per call`);
    const rows = await store.entries(from, to);
    const out = [];
    for (const e of rows) {
      const r = await store.receipt(e.height);
      out.push({
        height: e.height,
        entry: b64(e.entryBytes),
        entryHash: b64(e.entryHash),
        receipt: r ? b64(r) : null,
        ...entryFields(e),
      });
    }
    return { entries: out };
  }

  async #inclusion(q: URLSearchParams) {
    const { store } = this.#o;
    const size = intParam(q, 'size', store.size);
    let height: number;
    const internal = q.get('internal');
    if (internal !== null) {
      if (!/^[0-9a-f]{64}$/i.test(internal)) throw new HttpError(400, "'internal': 64 hex digits");
      const e = await store.entryByInternal(fromHex(internal.toLowerCase()));
      if (!e) throw new HttpError(404, 'no entry registers this internal hash');
      height = e.height;
    } else {
      height = intParam(q, 'height');
    }
    if (height < 1 || height > size || size > store.size) {
      throw new HttpError(
        height > store.size ? 404 : 400,
        `need 1 <= height <= size <= ${store.size}`,
      );
    }
    const entryHash = await store.headAt(height);
    const proof = await store.inclusionProof(height, size);
    const root = await store.rootAt(size);
    return {
      height,
      size,
      leafIndex: height - 1,
      entryHash: b64(entryHash),
      proof: proof.map(b64),
      root: b64(root),
      entryHashHex: toHex(entryHash),
      proofHex: proof.map(toHex),
      rootHex: toHex(root),
    };
  }

  async #consistency(q: URLSearchParams) {
    const { store } = this.#o;
    const from = intParam(q, 'from');
    const to = intParam(q, 'to', store.size);
    if (from > to || to > store.size) throw new HttpError(400, `need from <= to <= ${store.size}`);
    const proof = await store.consistencyProof(from, to);
    const [root1, root2] = [await store.rootAt(from), await store.rootAt(to)];
    return {
      from,
      to,
      proof: proof.map(b64),
      root1: b64(root1),
      root2: b64(root2),
      proofHex: proof.map(toHex),
      root1Hex: toHex(root1),
      root2Hex: toHex(root2),
    };
  }

  async #block(height: number) {
    const b = await this.#o.store.block(height);
    if (!b) throw new HttpError(404, `no block at height ${height}`);
    return {
      height: b.height,
      gateway: b.gateway,
      seq: b.seq,
      kid: b64(b.kid),
      signedHeader: b64(b.signedHeader),
      body: b64(b.body),
      erased: b.erased ?? null,
      kidHex: toHex(b.kid),
      bodyHashHex: toHex(b.bodyHash),
      bodyBytes: b.body.length,
    };
  }

  async #anchor(q: URLSearchParams) {
    const height = intParam(q, 'height');
    if (height < 1 || height > this.#o.store.size) {
      throw new HttpError(404, `need 1 <= height <= ${this.#o.store.size}`);
    }
    const a = await anchorCovering(this.#o.store, height);
    if (!a) throw new HttpError(404, `height ${height} is not covered by an anchor receipt yet`);
    return {
      ...a,
      block: b64(a.block),
      receipt: b64(a.receipt),
      proof: a.proof.map(b64),
      proofHex: a.proof.map(toHex),
    };
  }

  async #feed(q: URLSearchParams) {
    const { store } = this.#o;
    const size = store.size;
    const from = intParam(q, 'from', 1);
    const asked = intParam(q, 'to', from + MAX_RANGE - 1);
    if (from < 1 || asked < from - 1) throw new HttpError(400, 'need 1 <= from <= to + 1');
    if (asked - from + 1 > MAX_RANGE)
      throw new HttpError(400, `at most ${MAX_RANGE} items per call`);
    // Beyond the chain: an empty answer that still says the size (a replica ahead of it sees so).
    const to = Math.min(asked, size);
    const items = [];
    let bytes = 0;
    for (const e of await store.entries(from, to)) {
      const b = await store.block(e.height);
      if (!b) throw new BrokerError(BrokerCode.Corrupt, `no block at height ${e.height}`);
      if (items.length > 0 && bytes + b.body.length > MAX_FEED_BYTES) break;
      bytes += b.body.length;
      const r = await store.receipt(e.height);
      items.push({
        height: e.height,
        entry: b64(e.entryBytes),
        signedHeader: b64(b.signedHeader),
        body: b64(b.body),
        erased: b.erased ?? null,
        receipt: r ? b64(r) : null,
      });
    }
    return { size, items };
  }

  async #certificate(kidHex: string) {
    const c = (await this.#o.store.certificates()).find((x) => toHex(x.kid) === kidHex);
    if (!c) throw new HttpError(404, `no certificate with kid ${kidHex}`);
    return { kid: b64(c.kid), der: b64(c.der), kidHex, ...certificateFields(c.der) };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
