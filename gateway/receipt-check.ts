/**
 * Checks a notary's answer to one of our blocks before the block counts as done:
 * the receipt's COSE signature against the notary certificate's key (that certificate
 * validated by ca's validateCertificate at start), its notary id, and that its entry
 * registers exactly our block (entry.internal = h of our block) for us (submitter).
 * Never throws; a failure names the check and carries the evidence (STYLE §1).
 */
import type { KeyObject } from 'node:crypto';
import { equalBytes, toHex } from '../core/bytes.js';
import { type Receipt, verifyReceipt } from '../core/receipt.js';

export type ReceiptCheck = 'signature' | 'payload' | 'notary-id' | 'internal' | 'submitter';

export type ReceiptCheckResult =
  | { readonly ok: true; readonly receipt: Receipt }
  | {
      readonly ok: false;
      readonly check: ReceiptCheck;
      readonly detail: string;
      readonly expected?: string;
      readonly actual?: string;
    };

export interface ReceiptExpectation {
  readonly notaryKey: KeyObject;
  readonly notaryKid: Uint8Array;
  readonly notaryId: string;
  readonly gatewayId: string;
  /** h of the block this receipt must register. */
  readonly blockHash: Uint8Array;
}

export function checkReceipt(bytes: Uint8Array, x: ReceiptExpectation): ReceiptCheckResult {
  const v = verifyReceipt(bytes, x.notaryKey, x.notaryKid);
  if (!v.ok) return { ok: false, check: v.check, detail: v.detail };
  const r = v.value;
  if (r.notaryId !== x.notaryId) {
    return {
      ok: false,
      check: 'notary-id',
      detail: 'the receipt names another notary',
      expected: x.notaryId,
      actual: r.notaryId,
    };
  }
  if (!equalBytes(r.entry.internal, x.blockHash)) {
    return {
      ok: false,
      check: 'internal',
      detail: "the receipt's entry registers another block",
      expected: toHex(x.blockHash),
      actual: toHex(r.entry.internal),
    };
  }
  if (r.entry.submitter !== x.gatewayId) {
    return {
      ok: false,
      check: 'submitter',
      detail: "the receipt's entry names another submitter",
      expected: x.gatewayId,
      actual: r.entry.submitter,
    };
  }
  return { ok: true, receipt: r };
}
