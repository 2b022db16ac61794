/**
 * Who may see the gateway console. Its pages name the clinic's devices and when they
 * last sent, so reaching the ops port (which Prometheus may scrape from elsewhere) is
 * not enough: a request is admitted if it comes from this host's loopback interface
 * (`http.console.loopback`, default true), or carries `Authorization: Bearer <token>`
 * with the token in `http.console.tokenFile`. Anything else gets 403 (no token is
 * configured) or 401 (a token is, and this one is missing or wrong).
 * A reverse proxy on the same host makes every client look local: behind one, set
 * `loopback: false` and give the token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ConsoleError } from '../ops/html.js';

export interface ConsoleAccess {
  readonly loopback: boolean;
  /** The bearer token (file contents, trimmed), if one is configured. */
  readonly token: string | undefined;
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

const digest = (s: string) => createHash('sha256').update(s).digest();

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  const m = h ? /^Bearer ([\x21-\x7e]+)$/.exec(h) : null;
  return m?.[1];
}

/** Throws a 401/403 ConsoleError unless the request may see the console. */
export function admit(req: IncomingMessage, access: ConsoleAccess): void {
  if (access.loopback && isLoopback(req.socket.remoteAddress)) return;
  if (access.token === undefined) {
    throw new ConsoleError(
      403,
      'the gateway console answers on loopback only; set http.console.tokenFile to admit other clients with a bearer token',
    );
  }
  const given = bearer(req);
  // Compared as digests: equal length, constant time.
  if (given === undefined || !timingSafeEqual(digest(given), digest(access.token))) {
    throw new ConsoleError(
      401,
      'the gateway console needs Authorization: Bearer <token> (http.console.tokenFile)',
    );
  }
}
