/**
 * The notary's read-only web console, served by its HTTP API listener under /console.
 * Everything it shows is what the chain export already carries for an auditor (entries,
 * signed headers, receipts, checkpoints, anchors, evidence, CRLs), so it is open to
 * whoever may reach the API; block bodies stay encrypted and are never shown.
 * A malformed parameter is a 400 page, an unknown height or gateway a 404 page.
 */
import type { ServerResponse } from 'node:http';
import type { Counter, Registry } from 'prom-client';
import {
  ConsoleError,
  consoleErrorCounter,
  errorPage,
  type Html,
  page,
  sendHtml,
} from '../ops/html.js';
import type { Logger } from '../ops/log.js';
import type { ChainStore } from './chain-store.js';
import {
  entriesPage,
  gatewayPage,
  gatewaysPage,
  heightAtTime,
  overviewPage,
} from './console-chain.js';
import { entryPage } from './console-entry.js';
import { anchorsPage, checkpointsPage, crlsPage, equivocationsPage } from './console-records.js';
import { height, NAV } from './console-view.js';

type Render = (m: RegExpExecArray, q: URLSearchParams) => Promise<[title: string, body: Html]>;

export class NotaryConsole {
  readonly #store: ChainStore;
  readonly #log: Logger | undefined;
  readonly #errors: Counter<'code'>;
  readonly #routes: [RegExp, Render][];
  #id: string | undefined;

  constructor(store: ChainStore, registry: Registry, log?: Logger) {
    this.#store = store;
    this.#log = log;
    this.#errors = consoleErrorCounter(registry, 'medchain_notary');
    const s = store;
    this.#routes = [
      [/^\/console\/?$/, async () => ['Overview', await overviewPage(s, await this.#notaryId())]],
      [/^\/console\/entries$/, async (_m, q) => ['Chain', await entriesPage(s, q)]],
      [/^\/console\/gateways$/, async () => ['Gateways', gatewaysPage(s)]],
      [
        /^\/console\/gateway\/([^/]+)$/,
        async (m, q) => {
          const id = decode(m[1]!);
          return [`Gateway ${id}`, await gatewayPage(s, id, q)];
        },
      ],
      [
        /^\/console\/entry\/([^/]*)$/,
        async (m) => {
          const h = height(s, decode(m[1]!));
          return [`Entry ${h}`, await entryPage(s, h)];
        },
      ],
      [/^\/console\/checkpoints$/, async () => ['Checkpoints', await checkpointsPage(s)]],
      [/^\/console\/anchors$/, async () => ['Anchors', await anchorsPage(s)]],
      [
        /^\/console\/equivocations$/,
        async () => ['Equivocation evidence', await equivocationsPage(s)],
      ],
      [/^\/console\/crls$/, async () => ['CRLs', await crlsPage(s)]],
    ];
  }

  async #notaryId(): Promise<string> {
    this.#id ??= (await this.#store.notaryId()) ?? '?';
    return this.#id;
  }

  /** Serves one GET under /console. */
  async handle(url: URL, res: ServerResponse): Promise<void> {
    const banner = `notary ${await this.#notaryId().catch(() => '?')}`;
    try {
      // The find-by-height and find-by-time forms answer with a redirect to the page.
      if (url.pathname === '/console/entry/go') {
        const h = height(this.#store, url.searchParams.get('height') ?? '');
        return void res.writeHead(303, { location: `/console/entry/${h}` }).end();
      }
      if (url.pathname === '/console/time') {
        const h = await heightAtTime(this.#store, url.searchParams);
        return void res.writeHead(303, { location: `/console/entries?from=${h}` }).end();
      }
      for (const [re, render] of this.#routes) {
        const m = re.exec(url.pathname);
        if (!m) continue;
        const [title, body] = await render(m, url.searchParams);
        return sendHtml(res, 200, page({ title, banner, nav: NAV, body }));
      }
      throw new ConsoleError(404, `no console page ${url.pathname}`);
    } catch (err) {
      const e = errorPage(err, banner, NAV);
      this.#errors.inc({ code: e.code });
      if (e.status === 500) this.#log?.error({ err, path: url.pathname }, 'console page failed');
      else
        this.#log?.info({ code: e.code, path: url.pathname.slice(0, 200) }, 'console: error page');
      sendHtml(res, e.status, e.html);
    }
  }
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ConsoleError(400, 'malformed percent-encoding in the path');
  }
}
