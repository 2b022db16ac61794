import type { Decimal } from './decimal.js';
import { type DetValue, encodeDet } from './det-cbor.js';

/**
 * The reading model: what one device says at one moment. (deviceId, seq) names it at
 * every hop (DESIGN §4). Canonical bytes are a fixed-order CBOR array in the
 * deterministic profile of det-cbor.ts; docs/FORMAT-readings-body.md §Readings is the spec.
 */

export const READING_FORMAT_VERSION = 1;

/** Observation kind tags in the canonical array. */
export const OBS_NUMERIC = 0;
export const OBS_WAVEFORM_I16 = 1;
export const OBS_WAVEFORM_I32 = 2;

export interface NumericObservation {
  readonly kind: 'numeric';
  /** MDC 32-bit code (codes.ts). */
  readonly code: number;
  readonly value: Decimal;
  /** UCUM unit code. */
  readonly unit: string;
}

export interface WaveformObservation {
  readonly kind: 'waveform';
  readonly code: number;
  /** Raw samples; physical value of sample i = samples[i] × scale, in `unit`. */
  readonly samples: Int16Array | Int32Array;
  /** Sample period in microseconds (500 Hz → 2000). */
  readonly periodUs: number;
  readonly scale: Decimal;
  readonly unit: string;
}

export type Observation = NumericObservation | WaveformObservation;

export interface Reading {
  readonly deviceId: string;
  /** Per-device sequence number, non-negative safe integer. */
  readonly seq: number;
  /** Device clock, milliseconds since 1970-01-01T00:00:00Z (may be wrong: see skew). */
  readonly deviceTime: number;
  /** Opaque patient reference assigned by the clinic; never a name. */
  readonly patient: string;
  readonly observations: readonly Observation[];
}

/** Samples as little-endian bytes, independent of host endianness. */
export function samplesToBytes(samples: Int16Array | Int32Array): Uint8Array {
  const width = samples instanceof Int16Array ? 2 : 4;
  const out = new Uint8Array(samples.length * width);
  const view = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) {
    if (width === 2) view.setInt16(i * 2, samples[i]!, true);
    else view.setInt32(i * 4, samples[i]!, true);
  }
  return out;
}

/** Inverse of samplesToBytes; the caller has checked bytes.length is a multiple of width. */
export function samplesFromBytes(bytes: Uint8Array, width: 2 | 4): Int16Array | Int32Array {
  const n = bytes.length / width;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (width === 2) {
    const out = new Int16Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true);
    return out;
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
  return out;
}

function observationToDet(o: Observation): DetValue {
  if (o.kind === 'numeric') {
    return [OBS_NUMERIC, o.code, o.value.mantissa, o.value.exponent, o.unit];
  }
  const tag = o.samples instanceof Int16Array ? OBS_WAVEFORM_I16 : OBS_WAVEFORM_I32;
  return [
    tag,
    o.code,
    samplesToBytes(o.samples),
    o.periodUs,
    o.scale.mantissa,
    o.scale.exponent,
    o.unit,
  ];
}

/** The canonical array of a reading, before encoding. */
export function readingToDet(r: Reading): DetValue {
  return [
    READING_FORMAT_VERSION,
    r.deviceId,
    r.seq,
    r.deviceTime,
    r.patient,
    r.observations.map(observationToDet),
  ];
}

/**
 * Canonical bytes of a reading: same reading → same bytes. These bytes are what the body
 * seals and what a Merkle leaf commits to. Throws TypeError only on a programming error
 * (a non-integer field), never on anything a device sent: decodeReading validated that.
 */
export function encodeReading(r: Reading): Uint8Array {
  return encodeDet(readingToDet(r));
}
