/**
 * Errors of the replica (broker/replica*.ts). Codes are stable: scripts, metrics and
 * docs key on them. A REPLICA_VERIFY error names the first height (or checkpoint size)
 * that failed and the check, as `medchain verify` does for an export.
 */
import { MedchainError } from '../errors/medchain-error.js';

export const ReplicaCode = {
  /** Something the notary served does not verify; nothing from that height on is stored. */
  Verify: 'REPLICA_VERIFY',
  /** Two signed statements of the notary disagree (the evidence is kept). */
  Fork: 'REPLICA_FORK',
  /** The notary could not be reached or answered something unreadable (retried). */
  Source: 'REPLICA_SOURCE',
  /** Bad options or a database that belongs to another notary or root. */
  Config: 'REPLICA_CONFIG',
} as const;
export type ReplicaCode = (typeof ReplicaCode)[keyof typeof ReplicaCode];

/** What failed, in the vocabulary of docs/FORMAT-export.md §4. */
export type ReplicaCheck =
  | 'format'
  | 'entry'
  | 'internal'
  | 'certificate'
  | 'block'
  | 'erasure'
  | 'sequence'
  | 'receipt'
  | 'checkpoint';

export class ReplicaError extends MedchainError {
  readonly height: number | undefined;
  readonly check: ReplicaCheck | undefined;
  constructor(
    code: ReplicaCode,
    message: string,
    opts: { height?: number; check?: ReplicaCheck; cause?: unknown } = {},
  ) {
    super(code, message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.height = opts.height;
    this.check = opts.check;
  }
}

export const refused = (check: ReplicaCheck, height: number, detail: string): ReplicaError =>
  new ReplicaError(ReplicaCode.Verify, `height ${height}: ${check}: ${detail}`, { height, check });
