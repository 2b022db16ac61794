/**
 * The certificates a gateway relies on, for the expiry gauge (ops/cert-metrics.ts):
 * its signing certificate, Trent's root, the notary's signing certificate, its TLS
 * certificates (uplink client, device listeners) and reader certificates.
 */
import { readFileSync } from 'node:fs';
import type { WatchedCertificate } from '../ops/cert-metrics.js';
import type { GatewayConfig } from './config.js';

export function watchedCertificates(
  cfg: GatewayConfig,
  pems: { own: string; root: string; notary: string },
): WatchedCertificate[] {
  const file = (path: string | undefined, usage: WatchedCertificate['usage']) =>
    path === undefined ? [] : [{ usage, certificate: readFileSync(path, 'utf8') }];
  return [
    { usage: 'signing', certificate: pems.own },
    { usage: 'root', certificate: pems.root },
    { usage: 'peer', certificate: pems.notary },
    ...file(cfg.notary.tls?.cert, 'tls'),
    ...file(cfg.devices.tls?.cert, 'tls'),
    ...file(cfg.devices.ws?.tls?.cert, 'tls'),
    ...cfg.readers.flatMap((r) => ('certificate' in r ? file(r.certificate, 'reader') : [])),
  ];
}
