/**
 * Verifying an internal block as a notary, replica or auditor sees it: the header
 * signature against the gateway's key, the header fields, and the body against
 * bodyHash. Never throws; a failure names the check and carries the evidence.
 */
import type { KeyObject } from 'node:crypto';
import {
  type BlockHeader,
  bodyHash,
  decodeBlockHeader,
  type InternalBlock,
  internalHash,
} from './block.js';
import { equalBytes } from './bytes.js';
import { verifySign1 } from './cose-verify.js';

export type BlockCheck = 'signature' | 'header' | 'gateway-id' | 'body-hash';

export type BlockVerifyResult =
  | {
      readonly ok: true;
      readonly header: BlockHeader;
      /** h of the block. */
      readonly hash: Uint8Array;
      readonly kid: Uint8Array | undefined;
      /** The body was erased (empty): header and chain verify, readings are gone. */
      readonly bodyErased: boolean;
    }
  | {
      readonly ok: false;
      readonly check: BlockCheck;
      readonly detail: string;
      readonly expected?: Uint8Array | string;
      readonly actual?: Uint8Array | string;
    };

export interface VerifyBlockOptions {
  /** The gateway the block must come from (certificate id, topic id). */
  readonly gatewayId?: string;
  /** The kid the gateway's certificate gives (see docs/FORMAT.md). */
  readonly kid?: Uint8Array;
}

export function verifyBlock(
  block: InternalBlock,
  gatewayKey: KeyObject | Uint8Array,
  opts: VerifyBlockOptions = {},
): BlockVerifyResult {
  const sig = verifySign1(block.signedHeader, gatewayKey, {
    ...(opts.kid ? { expectedKid: opts.kid } : {}),
  });
  if (!sig.ok) return { ok: false, check: 'signature', detail: `${sig.check}: ${sig.detail}` };
  const h = decodeBlockHeader(sig.msg.payload);
  if (!h.ok) return { ok: false, check: 'header', detail: h.detail };
  const header = h.value;
  if (opts.gatewayId !== undefined && header.gatewayId !== opts.gatewayId) {
    return {
      ok: false,
      check: 'gateway-id',
      detail: 'the header names another gateway',
      expected: opts.gatewayId,
      actual: header.gatewayId,
    };
  }
  const hash = internalHash(block.signedHeader);
  if (block.body.length === 0) {
    return { ok: true, header, hash, kid: sig.msg.kid, bodyErased: true };
  }
  const actual = bodyHash(block.body);
  if (!equalBytes(actual, header.bodyHash)) {
    return {
      ok: false,
      check: 'body-hash',
      detail: 'the body does not hash to the signed bodyHash',
      expected: header.bodyHash,
      actual,
    };
  }
  return { ok: true, header, hash, kid: sig.msg.kid, bodyErased: false };
}
