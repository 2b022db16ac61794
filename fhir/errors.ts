import { MedchainError } from '../errors/medchain-error.js';

export const FhirCode = {
  /** No reader private key was given: nothing can be decrypted without it. */
  NoReaderKey: 'FHIR_NO_READER_KEY',
  /** The key is not usable as a reader key (not P-256, unreadable, wrong token key). */
  ReaderKey: 'FHIR_READER_KEY',
  /** Blocks have bodies, but this key opened none of them (not a recipient, or wrong key). */
  NothingReadable: 'FHIR_NOTHING_READABLE',
  /** The export is not a chain export, or its items do not fit together. */
  BadExport: 'FHIR_BAD_EXPORT',
  /** The export does not verify against the given root (signatures, chain, receipts). */
  ExportInvalid: 'FHIR_EXPORT_INVALID',
  /** A body does not hash to the bodyHash its signed header commits to: tampered. */
  BodyHash: 'FHIR_BODY_HASH',
  /** A decrypted body's records do not match the signed header (count or Merkle root). */
  BodyMismatch: 'FHIR_BODY_MISMATCH',
  /** A decrypted reading does not decode as a medchain reading. */
  BadReading: 'FHIR_BAD_READING',
  /** A value does not fit the FHIR datatype it maps to. */
  Range: 'FHIR_RANGE',
  /** verify-proof --observation: the export directory has no Observation with that id. */
  NoObservation: 'FHIR_NO_OBSERVATION',
  /** verify-proof --observation: a file of the export directory is missing or not NDJSON. */
  BadBulk: 'FHIR_BAD_BULK',
} as const;
export type FhirCode = (typeof FhirCode)[keyof typeof FhirCode];

export class FhirError extends MedchainError {
  declare readonly code: FhirCode;
  /** Chain height of the block concerned, when there is one. */
  readonly height: number | undefined;
  constructor(code: FhirCode, message: string, opts: { height?: number; cause?: unknown } = {}) {
    super(code, message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.height = opts.height;
  }
}
