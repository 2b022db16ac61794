/**
 * Plain fields the HTTP API adds beside its base64 CBOR, for people reading the JSON:
 * hashes in lowercase hex, times in ms since epoch, ids and sizes decoded from what was
 * signed. Decoded for reading only: a client that verifies uses the base64 bytes.
 */
import { X509Certificate } from '../ca/x509.js';
import { toHex } from '../core/bytes.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { decodeCheckpointPayload } from '../core/receipt.js';
import type { StoredEntry } from './chain-types.js';

export function checkpointFields(signed: Uint8Array) {
  const d = decodeSign1(signed);
  const c = d.ok ? decodeCheckpointPayload(d.msg.payload) : undefined;
  if (!c?.ok) return {};
  return {
    notaryId: c.value.notaryId,
    size: c.value.size,
    time: c.value.time,
    headHex: toHex(c.value.head),
    rootHex: toHex(c.value.logRoot),
  };
}

export function entryFields(e: StoredEntry) {
  return {
    submitter: e.entry.submitter,
    registeredAt: e.entry.registeredAt,
    entryHashHex: toHex(e.entryHash),
    internalHex: toHex(e.entry.internal),
    prevHex: toHex(e.entry.prev),
  };
}

export function certificateFields(der: Uint8Array) {
  const c = new X509Certificate(der);
  return {
    subject: c.subject,
    serialHex: c.serialNumber.toLowerCase(),
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
  };
}
