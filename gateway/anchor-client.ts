/**
 * Fetches the regional anchor covering a registered block from the notary's HTTP API
 * (GET /anchor?height=, broker/http-api.ts) for a reading proof. Nothing fetched is
 * trusted: the proof's verifier checks every signature and hash down to Trent's root.
 */
import { decodeBlock } from '../core/block.js';
import type { ProofAnchor } from '../core/reading-proof.js';
import { GatewayCode, GatewayError } from './errors.js';

interface AnchorJson {
  size: number;
  block: string;
  receipt: string;
  proof: string[];
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function isAnchorJson(v: unknown): v is AnchorJson {
  const o = v as Partial<AnchorJson> | null;
  return (
    typeof o === 'object' &&
    o !== null &&
    Number.isSafeInteger(o.size) &&
    typeof o.block === 'string' &&
    B64.test(o.block) &&
    typeof o.receipt === 'string' &&
    B64.test(o.receipt) &&
    Array.isArray(o.proof) &&
    o.proof.every((p) => typeof p === 'string' && B64.test(p))
  );
}

/**
 * The anchor of entry `height` at the notary whose HTTP API is at `notaryUrl`;
 * `upstreamCert` is the regional notary's signing certificate (DER).
 */
export async function fetchAnchor(
  notaryUrl: string,
  height: number,
  upstreamCert: Uint8Array,
): Promise<ProofAnchor> {
  const none = (why: string) =>
    new GatewayError(GatewayCode.NoProof, `no anchor for height ${height}: ${why}`);
  const url = new URL('/anchor', notaryUrl);
  url.searchParams.set('height', String(height));
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw none(`${url.origin} unreachable (${(err as Error).message})`);
  }
  const body: unknown = await res.json().catch(() => undefined);
  if (!res.ok) {
    const msg = (body as { error?: unknown } | undefined)?.error;
    throw none(`the notary answered ${res.status}${typeof msg === 'string' ? `: ${msg}` : ''}`);
  }
  if (!isAnchorJson(body)) throw none('the notary answered something else than an anchor');
  const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
  return proofAnchor(
    height,
    bytes(body.block),
    body.proof.map(bytes),
    bytes(body.receipt),
    upstreamCert,
  );
}

/**
 * A reading proof's anchor from what the notary stores for it: the anchor block
 * [1, signedHeader, body = signed checkpoint], the entry's inclusion path in that
 * checkpoint's tree, and the upstream receipt.
 */
export function proofAnchor(
  height: number,
  anchorBlock: Uint8Array,
  path: readonly Uint8Array[],
  upstreamReceipt: Uint8Array,
  upstreamCert: Uint8Array,
): ProofAnchor {
  const block = decodeBlock(anchorBlock);
  if (!block.ok) {
    throw new GatewayError(
      GatewayCode.NoProof,
      `no anchor for height ${height}: the anchor block does not decode: ${block.detail}`,
    );
  }
  return {
    checkpoint: block.value.body,
    path,
    anchorHeader: block.value.signedHeader,
    upstreamReceipt,
    upstreamCert,
  };
}
