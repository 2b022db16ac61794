import { MedchainError } from '../errors/medchain-error.js';

export const GatewayCode = {
  /**
   * The spool is above its configured size. Transport action: hold back the PUBACK
   * (aedes closes the connection without one; the device keeps the QoS 1 message and
   * sends it again after reconnecting).
   */
  Pushback: 'GATEWAY_PUSHBACK',
  /** The block about to be stored does not follow the stored head (seq or prev). */
  HeadMoved: 'GATEWAY_HEAD_MOVED',
  Config: 'GATEWAY_CONFIG',
  Device: 'GATEWAY_DEVICE',
  Closed: 'GATEWAY_CLOSED',
  /** A reading proof cannot be built (unknown, not sealed or receipted yet, or pruned). */
  NoProof: 'GATEWAY_NO_PROOF',
  /** No proof because the reading's block body and salts were erased (DESIGN §3.8). */
  Erased: 'GATEWAY_ERASED',
  /** An erasure request that cannot be carried out (unknown block, not receipted yet). */
  Erase: 'GATEWAY_ERASE',
  /** The sealing worker thread failed or exited; the block's readings stay in the spool. */
  SealWorker: 'GATEWAY_SEAL_WORKER',
  /**
   * The stop did not finish: its bound (shutdown.timeoutMs) passed, or a second signal
   * asked to exit at once. What was not done is as after a crash: acknowledged readings
   * are in the spool and are sealed and forwarded at the next start.
   */
  ShutdownIncomplete: 'GATEWAY_SHUTDOWN_INCOMPLETE',
} as const;
export type GatewayCode = (typeof GatewayCode)[keyof typeof GatewayCode];

export class GatewayError extends MedchainError {
  declare readonly code: GatewayCode;
  constructor(code: GatewayCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
