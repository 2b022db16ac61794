import { isIP } from 'node:net';
import { CaCode, CaError } from './errors.js';
import type { HostNames } from './profile.js';

/** More names than this is an operator's mistake, not a service (and keeps a certificate small). */
export const MAX_HOST_NAMES = 16;

/** RFC 1123 §2.1 host name: dot-separated labels of letters, digits and hyphens. No wildcards. */
const LABEL_RE = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

function assertDns(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length > 253 || !lower.split('.').every((l) => LABEL_RE.test(l))) {
    throw new CaError(
      CaCode.BadInput,
      `--dns '${name}': a host name of letters, digits, hyphens and dots (no wildcard, at most 253 characters).`,
    );
  }
  return lower;
}

function assertIp(addr: string): string {
  if (isIP(addr) === 0) {
    throw new CaError(CaCode.BadInput, `--ip '${addr}': an IPv4 or IPv6 address.`);
  }
  return addr;
}

/**
 * The dNSName and iPAddress SANs of a TLS certificate, checked and normalised
 * (lowercase names, duplicates refused). Only TLS certificates name hosts: a signing
 * certificate names a participant, never a machine.
 */
export function assertHostNames(hosts: HostNames, purpose: string): HostNames {
  const dns = (hosts.dns ?? []).map(assertDns);
  const ip = (hosts.ip ?? []).map(assertIp);
  if (dns.length + ip.length === 0) return {};
  if (purpose !== 'tls') {
    throw new CaError(
      CaCode.BadInput,
      '--dns/--ip name the hosts a TLS service answers on: give them with --purpose tls only.',
    );
  }
  if (dns.length + ip.length > MAX_HOST_NAMES) {
    throw new CaError(CaCode.BadInput, `at most ${MAX_HOST_NAMES} host names and addresses.`);
  }
  for (const list of [dns, ip]) {
    const dup = list.find((v, i) => list.indexOf(v) !== i);
    if (dup !== undefined) throw new CaError(CaCode.BadInput, `'${dup}' is given twice.`);
  }
  return { dns, ip };
}

/**
 * The CRL Distribution Point written into every certificate: an http URL (RFC 5280
 * §4.2.1.13 — relying parties fetch it without TLS, which would itself need the CRL).
 */
export function assertCrlUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CaError(CaCode.BadInput, `--crl-url '${url}' is not a URL.`);
  }
  if (parsed.protocol !== 'http:' || parsed.username !== '' || parsed.password !== '') {
    throw new CaError(
      CaCode.BadInput,
      `--crl-url '${url}': an http:// URL without credentials (a CRL is signed, and fetching it must not need TLS).`,
    );
  }
  if (url.length > 512) throw new CaError(CaCode.BadInput, '--crl-url: at most 512 characters.');
  return url;
}
