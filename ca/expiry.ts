import { CaCode, CaError } from './errors.js';
import { X509Certificate } from './x509.js';

/** Services warn this long before one of their certificates expires. */
export const EXPIRY_WARN_DAYS = 30;
const DAY_MS = 86_400_000;

export type ExpiryState = 'ok' | 'expiring' | 'expired';

export interface CertificateExpiry {
  /** What the service calls it: 'signing', 'tls', … */
  readonly name: string;
  readonly notAfter: Date;
  /** Seconds from `now` to notAfter; negative once expired. */
  readonly secondsLeft: number;
  readonly state: ExpiryState;
}

/** Where one certificate stands at `now`: expired, within the warning window, or fine. */
export function certificateExpiry(
  name: string,
  cert: string | Uint8Array | X509Certificate,
  now: Date = new Date(),
  warnDays: number = EXPIRY_WARN_DAYS,
): CertificateExpiry {
  const c =
    cert instanceof X509Certificate
      ? cert
      : new X509Certificate(typeof cert === 'string' ? cert : Buffer.from(cert));
  const left = c.notAfter.getTime() - now.getTime();
  const state: ExpiryState = left < 0 ? 'expired' : left <= warnDays * DAY_MS ? 'expiring' : 'ok';
  return { name, notAfter: c.notAfter, secondsLeft: Math.floor(left / 1000), state };
}

/**
 * A service refuses to start on an expired certificate: CA_CERT_EXPIRED, naming the
 * certificate and the one command that renews it for the same key.
 */
export function assertNotExpired(list: readonly CertificateExpiry[], service: string): void {
  const expired = list.filter((e) => e.state === 'expired');
  if (expired.length === 0) return;
  const what = expired.map((e) => `${e.name} (expired ${e.notAfter.toISOString()})`).join(', ');
  throw new CaError(
    CaCode.CertExpired,
    `${service}: certificate ${what}. Renew it for the same key with 'medchain ca renew --serial …' and restart.`,
  );
}
