/**
 * The gateway's read-only web console, served by its ops HTTP listener under /console
 * to whom console-access.ts admits. Three pages: status, devices, certificates.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Counter } from 'prom-client';
import {
  ConsoleError,
  consoleErrorCounter,
  errorPage,
  type Html,
  page,
  sendHtml,
} from '../ops/html.js';
import type { Logger } from '../ops/log.js';
import { admit, type ConsoleAccess } from './console-access.js';
import type { KnownCertificate } from './console-certs.js';
import { certificatesPage, devicesPage, type GatewayStatus, statusPage } from './console-pages.js';
import { GatewayCode, GatewayError } from './errors.js';
import type { GatewayMetrics } from './metrics.js';
import type { DeviceActivity } from './spool.js';

export interface GatewayConsoleOptions {
  readonly gatewayId: string;
  readonly access: ConsoleAccess;
  readonly metrics: GatewayMetrics;
  readonly status: () => Promise<GatewayStatus>;
  readonly devices: (limit: number) => Promise<DeviceActivity[]>;
  readonly certificates: readonly KnownCertificate[];
  readonly crl: () =>
    | { thisUpdate: number; nextUpdate: number | undefined; revoked: number }
    | undefined;
  readonly log?: Logger | undefined;
}

const NAV: readonly (readonly [string, string])[] = [
  ['/console', 'status'],
  ['/console/devices', 'devices'],
  ['/console/certificates', 'certificates'],
];
/** Devices listed on one page. */
const MAX_DEVICES = 5000;

export class GatewayConsole {
  readonly #o: GatewayConsoleOptions;
  readonly #errors: Counter<'code'>;

  constructor(o: GatewayConsoleOptions) {
    this.#o = o;
    this.#errors = consoleErrorCounter(o.metrics.registry, 'medchain_gateway');
  }

  /** Serves one GET under /console. */
  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const o = this.#o;
    const banner = `gateway ${o.gatewayId}`;
    try {
      admit(req, o.access);
      const now = Date.now();
      let title: string;
      let body: Html;
      if (path === '/console' || path === '/console/') {
        [title, body] = ['Status', await statusPage(await o.status(), o.metrics, now)];
      } else if (path === '/console/devices') {
        [title, body] = ['Devices', devicesPage(await o.devices(MAX_DEVICES), MAX_DEVICES, now)];
      } else if (path === '/console/certificates') {
        [title, body] = ['Certificates', certificatesPage(o.certificates, o.crl(), now)];
      } else {
        throw new ConsoleError(404, `no console page ${path}`);
      }
      sendHtml(res, 200, page({ title, banner, nav: NAV, body }));
    } catch (err) {
      const refused = err instanceof ConsoleError && (err.status === 401 || err.status === 403);
      // A refused client sees no navigation: not even the names of the pages.
      const e = errorPage(err, banner, refused ? [] : NAV);
      this.#errors.inc({ code: e.code });
      const where = { code: e.code, path: path.slice(0, 200), client: req.socket.remoteAddress };
      if (e.status === 500) o.log?.error({ err, path }, 'console page failed');
      else if (refused) o.log?.warn(where, 'console: access refused');
      else o.log?.info(where, 'console: error page');
      if (e.status === 401) {
        res.setHeader('www-authenticate', 'Bearer realm="medchain-gateway-console"');
      }
      sendHtml(res, e.status, e.html);
    }
  }
}

/** The access policy from the config (`http.console`); the token file is read once. */
export function consoleAccess(
  c: { loopback: boolean; tokenFile?: string | undefined },
  read: (path: string, what: string) => string,
): ConsoleAccess {
  const token = c.tokenFile ? read(c.tokenFile, 'console token file').trim() : undefined;
  if (token !== undefined && !/^[\x21-\x7e]{16,}$/.test(token)) {
    throw new GatewayError(
      GatewayCode.Config,
      `the console token in ${c.tokenFile} must be at least 16 printable ASCII characters without spaces`,
    );
  }
  return { loopback: c.loopback, token };
}
