/**
 * What the notary console's pages share: navigation, parameter parsing (bad input is a
 * 400 page, an unknown height a 404 page) and readable forms of signed structures.
 */
import { X509Certificate as NodeCert } from 'node:crypto';
import { nameField } from '../ca/identity.js';
import { X509Certificate } from '../ca/x509.js';
import { toHex } from '../core/bytes.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { verifySign1 } from '../core/cose-verify.js';
import { type Checkpoint, decodeCheckpointPayload } from '../core/receipt.js';
import { ConsoleError, code, type Html, html } from '../ops/html.js';
import type { ChainStore } from './chain-store.js';

export const NAV: readonly (readonly [string, string])[] = [
  ['/console', 'overview'],
  ['/console/entries', 'chain'],
  ['/console/gateways', 'gateways'],
  ['/console/checkpoints', 'checkpoints'],
  ['/console/anchors', 'anchors'],
  ['/console/equivocations', 'equivocations'],
  ['/console/crls', 'CRLs'],
];

/** Entries per chain page. */
export const PAGE = 50;

export const hex = (b: Uint8Array): Html => code(toHex(b));

/** A positive integer parameter (height, seq): anything else is a 400 page. */
export function positive(
  value: string | null | undefined,
  name: string,
  fallback?: number,
): number {
  if (value === null || value === undefined || value === '') {
    if (fallback !== undefined) return fallback;
    throw new ConsoleError(400, `missing ${name}`);
  }
  if (!/^[1-9]\d{0,14}$/.test(value)) {
    throw new ConsoleError(400, `${name} must be a positive integer, not '${value.slice(0, 40)}'`);
  }
  return Number(value);
}

/** A height that exists in the chain of `store` (400 if malformed, 404 if beyond). */
export function height(store: ChainStore, value: string | undefined): number {
  const h = positive(value, 'height');
  if (h > store.size)
    throw new ConsoleError(404, `no entry at height ${h} (the chain has ${store.size})`);
  return h;
}

export interface CertSummary {
  readonly subject: string;
  readonly role: string;
  readonly id: string;
  readonly serial: string;
  readonly notAfter: Date;
}

export function certSummary(der: Uint8Array): CertSummary {
  const c = new X509Certificate(der);
  return {
    subject: c.subject,
    role: nameField(c.subjectName, 'OU') ?? '?',
    id: nameField(c.subjectName, 'CN') ?? '?',
    serial: c.serialNumber.toLowerCase(),
    notAfter: c.notAfter,
  };
}

/** Whether a COSE_Sign1 verifies with the certificate of its kid among `certs`. */
export function signedBy(
  signed: Uint8Array,
  certs: readonly { kid: Uint8Array; der: Uint8Array }[],
): { ok: boolean; text: string } {
  const d = decodeSign1(signed);
  if (!d.ok) return { ok: false, text: `not a COSE_Sign1 (${d.check})` };
  const kid = d.msg.kid ? toHex(d.msg.kid) : '';
  const cert = certs.find((c) => toHex(c.kid) === kid);
  if (!cert) return { ok: false, text: `no stored certificate for kid ${kid}` };
  const key = new NodeCert(Buffer.from(cert.der)).publicKey;
  const v = verifySign1(d.msg, key);
  const who = certSummary(cert.der);
  return v.ok
    ? { ok: true, text: `verifies with ${who.role} ${who.id} (kid ${kid.slice(0, 16)}…)` }
    : { ok: false, text: `signature does not verify (${v.check}) for kid ${kid}` };
}

export function checkpointOf(bytes: Uint8Array): Checkpoint | undefined {
  const d = decodeSign1(bytes);
  if (!d.ok) return undefined;
  const c = decodeCheckpointPayload(d.msg.payload);
  return c.ok ? c.value : undefined;
}

/** A link to entry `h`; size 0 (an empty chain's checkpoint or anchor) has no entry. */
export const entryLink = (h: number): Html =>
  h >= 1 ? html`<a href="/console/entry/${h}">${h}</a>` : html`${h}`;
