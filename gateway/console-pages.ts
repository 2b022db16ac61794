/**
 * The gateway console's pages: status (uplink, spool backlog, oldest unreceipted block,
 * rejections by reason), devices (last sequence number and reading time — never a
 * reading's content) and certificates (expiry of every certificate the gateway relies on).
 */
import { fields, type Html, html, iso, table, verdict } from '../ops/html.js';
import type { KnownCertificate } from './console-certs.js';
import type { GatewayMetrics } from './metrics.js';
import type { DeviceActivity } from './spool.js';
import type { UplinkStatus } from './uplink.js';

export interface GatewayStatus {
  readonly gatewayId: string;
  readonly notaryId: string;
  readonly uplink: UplinkStatus;
  readonly backlogReadings: number;
  readonly backlogBytes: number;
  readonly pushback: boolean;
  readonly lastBlock: number;
  readonly oldestUnreceipted: { seq: number; sealedAt: number } | undefined;
}

const DAY = 86_400_000;
/** Certificates expiring within this many days are flagged (the alert rules' horizon). */
export const EXPIRY_WARN_DAYS = 30;

function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}

/** Counters that count refusals, each with its label: what the console lists by reason. */
const REFUSALS: readonly [keyof GatewayMetrics, string, string][] = [
  ['rejected', 'reason', 'readings rejected'],
  ['connectRefused', 'reason', 'device connections refused'],
  ['aclDenied', 'action', 'device publish/subscribe denied'],
  ['refusals', 'reason', 'blocks refused by the notary'],
  ['receiptsRejected', 'check', 'receipts rejected'],
];

async function refusals(m: GatewayMetrics): Promise<(readonly [string, string, number])[]> {
  const rows: (readonly [string, string, number])[] = [];
  for (const [key, label, what] of REFUSALS) {
    const metric = m[key] as {
      get(): Promise<{ values: { labels: Record<string, string | number>; value: number }[] }>;
    };
    for (const v of (await metric.get()).values) {
      if (v.value > 0) rows.push([what, String(v.labels[label] ?? ''), v.value]);
    }
  }
  return rows;
}

export async function statusPage(s: GatewayStatus, m: GatewayMetrics, now: number): Promise<Html> {
  const u = s.uplink;
  const old = s.oldestUnreceipted;
  return html`<h2>Uplink to notary ${s.notaryId}</h2>${fields([
    [
      'state',
      u.connected
        ? verdict(true, 'connected')
        : verdict(false, `down for ${duration(u.downForMs)}`),
    ],
    ['blocks in flight', u.inflight],
    ['blocks without a receipt', u.unreceiptedBlocks],
    [
      'oldest unreceipted block',
      old
        ? html`seq ${old.seq}, sealed ${iso(old.sealedAt)} (${duration(Math.max(0, now - old.sealedAt))} ago)`
        : 'none',
    ],
  ])}<h2>Spool</h2>${fields([
    ['backlog (readings not yet receipted)', s.backlogReadings],
    ['backlog bytes', s.backlogBytes],
    ['pushback (refusing new readings)', s.pushback ? verdict(false, 'yes') : verdict(true, 'no')],
    ['last sealed block', s.lastBlock],
  ])}<h2>Rejections by reason (since start)</h2>${table(['what', 'reason', 'count'], await refusals(m))}`;
}

export function devicesPage(devices: readonly DeviceActivity[], limit: number, now: number): Html {
  return html`<p>${devices.length}${devices.length === limit ? '+' : ''} devices; reading contents are never shown (bodies are encrypted for the readers)</p>${table(
    ['device', 'registered', 'last seq', 'last reading received', 'silent for', 'last block'],
    devices.map((d) => [
      d.id,
      d.registeredAt === undefined ? 'external broker' : iso(d.registeredAt),
      d.lastSeq ?? '—',
      d.lastReceivedAt === undefined
        ? html`<span class="muted">none spooled</span>`
        : iso(d.lastReceivedAt),
      d.lastReceivedAt === undefined ? '—' : duration(Math.max(0, now - d.lastReceivedAt)),
      d.lastBlock ?? '—',
    ]),
  )}`;
}

export function certificatesPage(
  certs: readonly KnownCertificate[],
  crl: { thisUpdate: number; nextUpdate: number | undefined; revoked: number } | undefined,
  now: number,
): Html {
  const left = (t: number) => {
    const days = Math.floor((t - now) / DAY);
    return t <= now
      ? verdict(false, 'expired')
      : days < EXPIRY_WARN_DAYS
        ? verdict(false, `${days} days left`)
        : verdict(true, `${days} days left`);
  };
  return html`${table(
    ['used for', 'role', 'id', 'serial', 'not after', 'expiry'],
    certs.map((c) => [
      c.use,
      c.role,
      c.id,
      html`<code>${c.serial}</code>`,
      iso(c.notAfter),
      left(c.notAfter),
    ]),
  )}<h2>CRL</h2>${
    crl
      ? fields([
          ['this update', iso(crl.thisUpdate)],
          ['next update', iso(crl.nextUpdate)],
          ['state', crl.nextUpdate === undefined ? 'no next update' : left(crl.nextUpdate)],
          ['revoked certificates', crl.revoked],
        ])
      : html`<p class="muted">no CRL configured</p>`
  }`;
}
