import { MedchainError } from '../errors/medchain-error.js';

export const BrokerCode = {
  Store: 'NOTARY_STORE',
  Corrupt: 'NOTARY_CORRUPT',
  Closed: 'NOTARY_CLOSED',
  BadRequest: 'NOTARY_BAD_REQUEST',
  Config: 'NOTARY_CONFIG',
  Overloaded: 'NOTARY_OVERLOADED',
} as const;
export type BrokerCode = (typeof BrokerCode)[keyof typeof BrokerCode];

export class BrokerError extends MedchainError {
  /** The first bad height, for NOTARY_CORRUPT. */
  readonly height: number | undefined;
  constructor(code: BrokerCode, message: string, opts: { height?: number; cause?: unknown } = {}) {
    super(code, message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.height = opts.height;
  }
}
