/**
 * Server-rendered HTML for the read-only consoles (broker/console*.ts, gateway/console*.ts).
 * Every interpolated value is escaped by the `html` tag unless it is already `Html`, so a
 * page cannot be made to run script by a gateway id, a CRL field or a query parameter.
 * Pages carry their own tiny stylesheet and a Content-Security-Policy that forbids any
 * script and any fetch beyond the page itself: nothing is loaded from anywhere at run time.
 */
import type { ServerResponse } from 'node:http';
import { Counter, type Registry } from 'prom-client';

/** Markup that is already safe (built by `html`). */
export class Html {
  constructor(readonly markup: string) {}
  toString(): string {
    return this.markup;
  }
}

export type HtmlValue = Html | string | number | bigint | boolean | null | undefined;

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function part(v: HtmlValue | readonly HtmlValue[]): string {
  if (Array.isArray(v)) return v.map(part).join('');
  if (v instanceof Html) return v.markup;
  if (v === null || v === undefined) return '';
  return esc(String(v));
}

/** Template tag: literal parts as written, interpolations escaped (arrays joined). */
export function html(
  strings: TemplateStringsArray,
  ...values: (HtmlValue | readonly HtmlValue[])[]
): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += part(values[i]!) + (strings[i + 1] ?? '');
  return new Html(out);
}

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1b1f23;background:#f6f8fa}
header{background:#123;color:#fff;padding:.6em 1.2em}header a{color:#cde;margin-right:1.1em}
header b{margin-right:1.6em}main{padding:1em 1.2em;max-width:80em}
table{border-collapse:collapse;background:#fff;margin:.5em 0 1.2em}
th,td{border:1px solid #d0d7de;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#eef1f4}code,.mono{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}
.ok{color:#1a7f37}.bad{color:#cf222e;font-weight:bold}.muted{color:#6e7781}
form{margin:.4em 0 1em}input{margin-right:.5em}`;

export interface PageOptions {
  readonly title: string;
  /** Product name in the banner, e.g. "notary notary-1". */
  readonly banner: string;
  readonly nav: readonly (readonly [href: string, label: string])[];
  readonly body: Html;
}

export function page(o: PageOptions): string {
  const nav = o.nav.map(([href, label]) => html`<a href="${href}">${label}</a>`);
  return `<!doctype html>\n${
    html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${o.title} · ${o.banner}</title><style>${new Html(CSS)}</style></head>
<body><header><b>medchain ${o.banner}</b>${nav}</header><main><h1>${o.title}</h1>
${o.body}</main></body></html>`.markup
  }\n`;
}

/** A table; cells are escaped unless they are Html. */
export function table(head: readonly string[], rows: readonly (readonly HtmlValue[])[]): Html {
  if (rows.length === 0) return html`<p class="muted">none</p>`;
  return html`<table><thead><tr>${head.map((h) => html`<th>${h}</th>`)}</tr></thead><tbody>${rows.map(
    (r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`,
  )}</tbody></table>`;
}

/** A two-column table of named fields. */
export function fields(rows: readonly (readonly [string, HtmlValue])[]): Html {
  return html`<table><tbody>${rows.map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}</tbody></table>`;
}

export const code = (s: string): Html => html`<code>${s}</code>`;
export const link = (href: string, label: HtmlValue): Html => html`<a href="${href}">${label}</a>`;
export const iso = (ms: number | undefined): string =>
  ms === undefined || !Number.isFinite(ms) ? '—' : new Date(ms).toISOString();
export const verdict = (ok: boolean, text: string): Html =>
  html`<span class="${ok ? 'ok' : 'bad'}">${text}</span>`;

/** A 4xx/5xx console page: the message, never a stack trace. */
export class ConsoleError extends Error {
  readonly code: ConsoleCode;
  constructor(
    readonly status: 400 | 401 | 403 | 404,
    message: string,
  ) {
    super(message);
    this.code = CODES[status];
  }
}

export type ConsoleCode =
  | 'CONSOLE_BAD_REQUEST'
  | 'CONSOLE_UNAUTHORIZED'
  | 'CONSOLE_FORBIDDEN'
  | 'CONSOLE_NOT_FOUND';
const CODES = {
  400: 'CONSOLE_BAD_REQUEST',
  401: 'CONSOLE_UNAUTHORIZED',
  403: 'CONSOLE_FORBIDDEN',
  404: 'CONSOLE_NOT_FOUND',
} as const;

/** `{prefix}_console_errors_total{code}` on `registry` (one per registry, however many consoles). */
export function consoleErrorCounter(registry: Registry, prefix: string): Counter<'code'> {
  const name = `${prefix}_console_errors_total`;
  const known = registry.getSingleMetric(name);
  if (known) return known as Counter<'code'>;
  return new Counter({
    name,
    help: 'Console requests answered with an error page, by code (CONSOLE_NOT_FOUND, ..., CONSOLE_INTERNAL)',
    labelNames: ['code'] as const,
    registers: [registry],
  });
}

/** The error page for a ConsoleError (its status) or anything else (500, no detail). */
export function errorPage(
  err: unknown,
  banner: string,
  nav: PageOptions['nav'],
): { status: number; code: ConsoleCode | 'CONSOLE_INTERNAL'; html: string } {
  const known = err instanceof ConsoleError;
  const status = known ? err.status : 500;
  const code = known ? err.code : 'CONSOLE_INTERNAL';
  const message = known ? err.message : 'internal error (see the service log)';
  const body = html`<p class="bad">${message}</p>`;
  return { status, code, html: page({ title: `${status} ${code}`, banner, nav, body }) };
}

const SECURITY_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export function sendHtml(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, SECURITY_HEADERS).end(body);
}
