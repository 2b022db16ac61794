import { toHex } from '../core/bytes.js';
import { sha256 } from '../core/hash.js';
import { FHIR_ID_RE } from './canonical.js';

/**
 * Resource ids of the export: deterministic, so a re-export updates rather than
 * duplicates (Bulk Data import and batch PUT upsert by id). Readable where the medchain
 * id fits a FHIR id after a one-letter type prefix; a SHA-256 otherwise.
 */

const hex = (s: string) => toHex(sha256(new TextEncoder().encode(s)));

function readable(prefix: string, value: string): string {
  const id = `${prefix}.${value}`;
  return FHIR_ID_RE.test(id) ? id : `${prefix}.${hex(value).slice(0, 62 - prefix.length)}`;
}

export const patientId = (ref: string) => readable('p', ref);
export const deviceId = (id: string) => readable('d', id);
export const gatewayDeviceId = (id: string) => readable('g', id);
export const notaryDeviceId = (id: string) => readable('n', id);
/** One metric per (device, quantity, unit): the unit's index in core's table when not the first. */
export const metricId = (device: string, mdc: number, unitIndex: number) =>
  readable('m', `${device}.${mdc}${unitIndex === 0 ? '' : `.u${unitIndex}`}`);
/** An Observation: its first reading and its code. */
export const observationId = (readingId: string, mdc: number) => hex(`${readingId}#${mdc}`);
export const provenanceId = (notaryId: string, height: number) =>
  hex(`provenance:${notaryId}/${height}`);
export const receiptBinaryId = (notaryId: string, height: number) =>
  hex(`receipt:${notaryId}/${height}`);
export const proofBinaryId = (readingId: string) => hex(`proof:${readingId}`);

/** The reading identity as the export writes it (Observation.identifier, proof entities). */
export const readingIdOf = (r: { deviceId: string; seq: number }) => `${r.deviceId}/${r.seq}`;
