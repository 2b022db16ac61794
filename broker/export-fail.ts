/** The first failure of an export verification: which check, at which height, why. */
import { toHex } from '../core/bytes.js';

export type ExportCheck =
  | 'format'
  | 'root'
  | 'crl'
  | 'entry'
  | 'internal'
  | 'certificate'
  | 'block'
  | 'erasure'
  | 'sequence'
  | 'receipt'
  | 'checkpoint'
  | 'equivocation'
  | 'anchor'
  | 'extent'
  | 'truncated'
  | 'consistency'
  | 'upstream'
  | 'end';

export interface ExportFailure {
  readonly ok: false;
  readonly check: ExportCheck;
  readonly height: number | undefined;
  readonly detail: string;
  readonly expected?: string;
  readonly actual?: string;
}

/** Thrown inside the verifier and turned into an ExportFailure at its edge. */
export class Fail extends Error {
  constructor(
    readonly check: ExportCheck,
    readonly height: number | undefined,
    detail: string,
    readonly expected?: Uint8Array | string,
    readonly actual?: Uint8Array | string,
  ) {
    super(detail);
  }

  toResult(): ExportFailure {
    const hex = (v: Uint8Array | string | undefined) =>
      v === undefined ? undefined : typeof v === 'string' ? v : toHex(v);
    const e = hex(this.expected);
    const a = hex(this.actual);
    return {
      ok: false,
      check: this.check,
      height: this.height,
      detail: this.message,
      ...(e ? { expected: e } : {}),
      ...(a ? { actual: a } : {}),
    };
  }
}
