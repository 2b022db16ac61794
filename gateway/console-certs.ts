/**
 * The certificates a gateway relies on, for the console's expiry view: its own signing
 * certificate, Trent's root, the notary's signing certificate, reader certificates, the
 * TLS certificates it presents, and the CRL (whose nextUpdate is an expiry too).
 * Read once at start, as the gateway itself uses them; the CRL is read as it is now.
 */
import { readFileSync } from 'node:fs';
import { nameField } from '../ca/identity.js';
import { X509Certificate, X509Crl } from '../ca/x509.js';
import type { GatewayConfig } from './config.js';

export interface KnownCertificate {
  /** What the gateway uses it for. */
  readonly use: string;
  readonly subject: string;
  readonly role: string;
  readonly id: string;
  readonly serial: string;
  readonly notAfter: number;
}

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function certsIn(use: string, file: string): KnownCertificate[] {
  return (readFileSync(file, 'utf8').match(PEM) ?? []).map((pem) => {
    const c = new X509Certificate(pem);
    return {
      use,
      subject: c.subject,
      role: nameField(c.subjectName, 'OU') ?? '',
      id: nameField(c.subjectName, 'CN') ?? '',
      serial: c.serialNumber.toLowerCase(),
      notAfter: c.notAfter.getTime(),
    };
  });
}

export function gatewayCertificates(cfg: GatewayConfig): KnownCertificate[] {
  const files: [string, string | undefined][] = [
    ['gateway signing (blocks)', cfg.certificate],
    ['Trent root', cfg.root],
    [`notary ${cfg.notary.id} signing (receipts)`, cfg.notary.certificate],
    ['uplink TLS client', cfg.notary.tls?.cert],
    ['device TLS server', cfg.devices.tls?.cert],
    ['device WebSocket TLS server', cfg.devices.ws?.tls?.cert],
    ['external device broker TLS client', cfg.devices.external?.cert],
    ...cfg.readers.map((r): [string, string | undefined] => [
      'reader (bodies sealed for it)',
      'certificate' in r ? r.certificate : undefined,
    ]),
  ];
  return files.flatMap(([use, file]) => (file ? certsIn(use, file) : []));
}

/** The CRL file as it is now: issuer, thisUpdate, nextUpdate, revoked serials. */
export function crlStatus(
  path: string | undefined,
): { thisUpdate: number; nextUpdate: number | undefined; revoked: number } | undefined {
  if (!path) return undefined;
  const crl = new X509Crl(readFileSync(path, 'utf8'));
  return {
    thisUpdate: crl.thisUpdate.getTime(),
    nextUpdate: crl.nextUpdate?.getTime(),
    revoked: crl.entries.length,
  };
}
