/**
 * The gateway ↔ notary protocol on MQTT (DESIGN §5), independent of the transport:
 *
 *   med/v1/notary/{notaryId}/submit/{gatewayId}    gateway → notary: encodeBlock() bytes, QoS 1
 *   med/v1/notary/{notaryId}/receipt/{gatewayId}   notary → gateway: encodeAnswer() bytes, QoS 1
 *
 *   answer = [1, seq, 0, receipt COSE_Sign1 bytes]                    registered (or already was)
 *          | [1, seq, 1, reason text, detail text, expectedSeq uint]  refused
 *
 * seq is the gateway sequence number of the block answered, so a gateway can match
 * answers to its outstanding blocks without a request id. expectedSeq tells a gateway
 * which block the notary wants next (after a gap, or after the notary restored).
 */
import { encodeDet } from './det-cbor.js';
import {
  bytesField,
  constField,
  decodeStruct,
  FieldError,
  type StructResult,
  textField,
  uintField,
} from './det-fields.js';

export const ANSWER_VERSION = 1;

/** Stable reasons a notary gives for refusing a block. */
export const RefusalReason = {
  Malformed: 'malformed',
  UnknownGateway: 'unknown-gateway',
  Certificate: 'certificate',
  WrongTopic: 'wrong-topic',
  Signature: 'signature',
  BodyHash: 'body-hash',
  Gap: 'gap',
  PrevLink: 'prev-link',
  Equivocation: 'equivocation',
  TooLarge: 'too-large',
  Unavailable: 'unavailable',
} as const;
export type RefusalReason = (typeof RefusalReason)[keyof typeof RefusalReason];
const REASONS: ReadonlySet<string> = new Set(Object.values(RefusalReason));

export type Answer =
  | { readonly kind: 'registered'; readonly seq: number; readonly receipt: Uint8Array }
  | {
      readonly kind: 'refused';
      readonly seq: number;
      readonly reason: RefusalReason;
      readonly detail: string;
      readonly expectedSeq: number;
    };

export function encodeAnswer(a: Answer): Uint8Array {
  return a.kind === 'registered'
    ? encodeDet([ANSWER_VERSION, a.seq, 0, a.receipt])
    : encodeDet([ANSWER_VERSION, a.seq, 1, a.reason, a.detail.slice(0, 500), a.expectedSeq]);
}

export function decodeAnswer(bytes: Uint8Array): StructResult<Answer> {
  return decodeStruct(bytes, 'answer', [4, 6], (f): Answer => {
    constField(f[0], 'version', ANSWER_VERSION);
    const seq = uintField(f[1], 'seq', 1);
    const kind = uintField(f[2], 'status');
    if (kind === 0 && f.length === 4) {
      return { kind: 'registered', seq, receipt: bytesField(f[3], 'receipt') };
    }
    if (kind !== 1 || f.length !== 6) {
      throw new FieldError('status', 'expected 0 (registered, 4 items) or 1 (refused, 6 items)');
    }
    const reason = textField(f[3], 'reason', 32);
    if (!REASONS.has(reason)) throw new FieldError('reason', `unknown reason '${reason}'`);
    return {
      kind: 'refused',
      seq,
      reason: reason as RefusalReason,
      detail: typeof f[4] === 'string' ? f[4] : '',
      expectedSeq: uintField(f[5], 'expectedSeq', 1),
    };
  });
}

export const topics = {
  submit: (notaryId: string, gatewayId: string) => `med/v1/notary/${notaryId}/submit/${gatewayId}`,
  receipt: (notaryId: string, gatewayId: string) =>
    `med/v1/notary/${notaryId}/receipt/${gatewayId}`,
  chain: (notaryId: string) => `med/v1/notary/${notaryId}/chain`,
  checkpoint: (notaryId: string) => `med/v1/notary/${notaryId}/checkpoint`,
  deviceObs: (deviceId: string) => `med/v1/dev/${deviceId}/obs`,
} as const;
