import { codeByMdc } from '../core/codes.js';
import { formatDecimal } from '../core/decimal.js';
import { encodeReading, type Observation, type Reading } from '../core/reading.js';

/**
 * What a device puts on the wire: canonical CBOR (core's encodeReading, the default), or
 * the JSON input form of docs/FORMAT.md "Readings" (decimals as strings, RFC 3339 time,
 * codes by MDC reference id). Both decode to the same canonical bytes.
 */

export type PayloadFormat = 'cbor' | 'json';

function observationToJson(o: Observation): Record<string, unknown> {
  // The reference id reads better; an unknown code (a fault) can only go as a number.
  const code = codeByMdc(o.code)?.refId ?? o.code;
  if (o.kind === 'numeric') return { code, value: formatDecimal(o.value), unit: o.unit };
  return {
    code,
    samples: Array.from(o.samples),
    bits: o.samples instanceof Int16Array ? 16 : 32,
    periodUs: o.periodUs,
    scale: formatDecimal(o.scale),
    unit: o.unit,
  };
}

export function readingToJson(r: Reading): Record<string, unknown> {
  return {
    deviceId: r.deviceId,
    seq: r.seq,
    time: new Date(r.deviceTime).toISOString(),
    patient: r.patient,
    obs: r.observations.map(observationToJson),
  };
}

const utf8 = new TextEncoder();

export function encodePayload(r: Reading, format: PayloadFormat): Uint8Array {
  return format === 'json' ? utf8.encode(JSON.stringify(readingToJson(r))) : encodeReading(r);
}
