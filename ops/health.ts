/**
 * The one JSON shape of /healthz and /readyz for every medchain service (gateway,
 * notary, replica), so a probe, a load balancer or an operator with curl reads them
 * alike:
 *
 *   { "service": "gateway", "status": "ok" | "not-ready", "ok": true | false,
 *     "reasons": ["pushback", ...], "detail": { ... } }
 *
 * `reasons` is empty exactly when `ok` is true; each reason is a stable kebab-case
 * word (README, "Operating medchain"); `detail` holds the figures behind it. The HTTP
 * status is 200 when ok, 503 otherwise.
 */
import type { ServerResponse } from 'node:http';

export type ServiceName = 'gateway' | 'notary' | 'replica';

export interface Health {
  readonly service: ServiceName;
  readonly status: 'ok' | 'not-ready';
  readonly ok: boolean;
  readonly reasons: readonly string[];
  readonly detail: Readonly<Record<string, unknown>>;
}

export function health(
  service: ServiceName,
  reasons: readonly string[],
  detail: Readonly<Record<string, unknown>> = {},
): Health {
  const ok = reasons.length === 0;
  return { service, status: ok ? 'ok' : 'not-ready', ok, reasons: [...reasons], detail };
}

/** A probe that threw: not ready, with the error's message as detail. */
export function probeFailed(service: ServiceName, err: unknown): Health {
  return health(service, ['probe-failed'], { error: (err as Error)?.message ?? String(err) });
}

export function sendHealth(res: ServerResponse, h: Health): void {
  res
    .writeHead(h.ok ? 200 : 503, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
    })
    .end(JSON.stringify(h));
}
