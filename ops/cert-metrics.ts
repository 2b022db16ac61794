/**
 * One gauge per certificate a service relies on, its notAfter as a Unix time, so an
 * alert can fire well before it expires (deploy/prometheus: 30 days). `usage` says what
 * the service uses it for: its own `signing` or `tls` certificate, the `root`, or a
 * `peer`'s (the notary a gateway sends to, a gateway a notary accepts blocks from, ...).
 */
import { X509Certificate } from 'node:crypto';
import { Gauge, type Registry } from 'prom-client';

export type CertificateUsage = 'signing' | 'tls' | 'root' | 'peer' | 'reader';

export interface WatchedCertificate {
  readonly usage: CertificateUsage;
  /** PEM text or DER bytes. */
  readonly certificate: string | Uint8Array;
}

function field(subject: string, key: string): string | undefined {
  return subject
    .split('\n')
    .find((l) => l.startsWith(`${key}=`))
    ?.slice(key.length + 1);
}

export function registerCertificateExpiry(
  registry: Registry,
  certs: readonly WatchedCertificate[],
): void {
  const gauge = new Gauge({
    name: 'medchain_certificate_expiry_timestamp_seconds',
    help: 'notAfter of a certificate this service uses, as a Unix time (by usage, role, id, serial)',
    labelNames: ['usage', 'role', 'id', 'serial'] as const,
    registers: [registry],
  });
  for (const c of certs) {
    const x = new X509Certificate(
      typeof c.certificate === 'string' ? c.certificate : Buffer.from(c.certificate),
    );
    gauge.set(
      {
        usage: c.usage,
        role: field(x.subject, 'OU') ?? (c.usage === 'root' ? 'ca' : 'unknown'),
        id: field(x.subject, 'CN') ?? '',
        serial: x.serialNumber.toLowerCase(),
      },
      Math.floor(new Date(x.validTo).getTime() / 1000),
    );
  }
}
