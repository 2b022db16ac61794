/**
 * Operations endpoints on a small node:http server: GET /metrics (Prometheus text),
 * /healthz (the process and its database answer), /readyz (200 while readings are
 * accepted; 503 with the reasons during pushback or shutdown), /console (HTML).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

export interface Probe {
  readonly ok: boolean;
  /** Why not ready, as stable words (docs/GATEWAY.md "Health and readiness"); empty when ok. */
  readonly reasons?: readonly string[];
  readonly detail: Record<string, unknown>;
}

export interface OpsHttpOptions {
  host: string;
  port: number;
  registry: Registry;
  /** Called before each scrape to refresh gauges. */
  refresh: () => Promise<void>;
  health: () => Promise<Probe>;
  ready: () => Promise<Probe>;
  /** The web console under /console (gateway/console.ts); it checks who may see it. */
  console?: {
    handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>;
  };
}

export class OpsHttp {
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(o: OpsHttpOptions): Promise<OpsHttp> {
    const server = createServer((req, res) => {
      const send = (code: number, type: string, body: string) => {
        res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
        res.end(body);
      };
      const probe = (p: Promise<Probe>) =>
        p.then(
          (r) => send(r.ok ? 200 : 503, 'application/json', JSON.stringify(r)),
          (err: unknown) =>
            send(503, 'application/json', JSON.stringify({ ok: false, error: String(err) })),
        );
      if (req.method !== 'GET') return send(405, 'text/plain', 'GET only\n');
      const url = (req.url ?? '/').split('?')[0];
      if (url === '/metrics') {
        o.refresh()
          .then(() => o.registry.metrics())
          .then(
            (text) => send(200, o.registry.contentType, text),
            (err: unknown) => send(500, 'text/plain', `${String(err)}\n`),
          );
      } else if (url === '/healthz') {
        probe(o.health());
      } else if (url === '/readyz') {
        probe(o.ready());
      } else if (o.console && (url === '/console' || url?.startsWith('/console/'))) {
        void o.console.handle(req, res, url);
      } else {
        send(404, 'text/plain', 'not found\n');
      }
    });
    server.listen(o.port, o.host);
    await once(server, 'listening');
    return new OpsHttp(server);
  }

  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  close(): Promise<void> {
    return new Promise((r) => {
      this.#server.close(() => r());
      this.#server.closeAllConnections();
    });
  }
}
