import { MedchainError } from '../errors/medchain-error.js';

/**
 * Why a device payload was refused. Stable: metrics label on it, the gateway sends it as
 * the MQTT 5 PUBACK reason string, docs/FORMAT-readings-body.md lists each.
 */
export const ReadingReason = {
  PayloadTooLarge: 'payload-too-large',
  MalformedCbor: 'malformed-cbor',
  MalformedJson: 'malformed-json',
  Schema: 'schema',
  UnknownCode: 'unknown-code',
  UnitMismatch: 'unit-mismatch',
  OutOfRange: 'out-of-range',
  TooManyObservations: 'too-many-observations',
  TooManySamples: 'too-many-samples',
  DeviceIdMismatch: 'device-id-mismatch',
} as const;
export type ReadingReason = (typeof ReadingReason)[keyof typeof ReadingReason];

/** 'out-of-range' → 'READING_OUT_OF_RANGE'. */
export function readingCode(reason: ReadingReason): string {
  return `READING_${reason.toUpperCase().replaceAll('-', '_')}`;
}

export class ReadingError extends MedchainError {
  readonly reason: ReadingReason;
  /** Where in the payload, e.g. 'obs[1].value'; '' for the whole payload. */
  readonly path: string;

  constructor(reason: ReadingReason, path: string, message: string, options?: { cause?: unknown }) {
    super(readingCode(reason), path === '' ? message : `${path}: ${message}`, options);
    this.reason = reason;
    this.path = path;
  }
}
