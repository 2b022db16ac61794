/**
 * Checking a fork evidence file (replica-evidence.ts) offline, with Trent's root alone, as
 * a third party would before confronting a notary: both statements verify under notary
 * certificates in the file (chained to the root, role notary, the file's notary id, valid
 * when signed), and they cannot both describe one append-only log:
 *
 *   same-size     two checkpoints of one size, another head or root;
 *   receipt       the receipt of entry `size` names another H(size) or root than the checkpoint;
 *   not-prefix    proof[0] is the larger checkpoint's tree at the disputed size (the RFC 9162
 *                 consistency proof proof[1..] shows it) and differs from the disputed root;
 *   inconsistent  signatures only: the notary failed to prove consistency, which is not a
 *                 proof of a fork by itself (`proven` false).
 */
import { validateCertificate } from '../ca/validate.js';
import { equalBytes, toHex } from '../core/bytes.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { kidOfCertificate } from '../core/kid.js';
import { verifyConsistency } from '../core/merkle-verify.js';
import {
  type Checkpoint,
  decodeCheckpointPayload,
  decodeReceiptPayload,
  verifyCheckpoint,
  verifyReceipt,
} from '../core/receipt.js';
import { decodeForkFile, type ForkFile } from './replica-evidence.js';

export type ForkVerifyResult =
  | {
      readonly ok: true;
      readonly proven: boolean;
      readonly fork: ForkFile;
      readonly detail: string;
    }
  | { readonly ok: false; readonly detail: string };

export async function verifyForkFile(
  bytes: Uint8Array,
  root: string | Uint8Array,
  skewMs = 300_000,
): Promise<ForkVerifyResult> {
  let f: ForkFile;
  try {
    f = decodeForkFile(bytes);
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
  const keyFor = async (cose: Uint8Array, at: number) => {
    const m = decodeSign1(cose);
    const kid = m.ok ? m.msg.kid : undefined;
    const der = kid && f.certificates.find((c) => equalBytes(kidOfCertificate(c), kid));
    if (!kid || !der) return undefined;
    const v = await validateCertificate(der, {
      root,
      role: 'notary',
      id: f.notaryId,
      at: new Date(at),
      skewMs,
      historical: true,
    });
    return v.ok ? { kid, key: v.publicKey.keyObject } : undefined;
  };
  const checkpoint = async (cose: Uint8Array, what: string): Promise<Checkpoint | string> => {
    const time = claimedTime(cose, 'checkpoint');
    const k = time === undefined ? undefined : await keyFor(cose, time);
    if (!k) return `${what}: no valid notary certificate in the file for it`;
    const v = verifyCheckpoint(cose, k.key, k.kid);
    if (!v.ok) return `${what}: ${v.check}: ${v.detail}`;
    if (v.value.notaryId !== f.notaryId) return `${what}: signed for '${v.value.notaryId}'`;
    return v.value;
  };
  const second = await checkpoint(f.second, 'second');
  if (typeof second === 'string') return { ok: false, detail: second };
  if (second.size !== f.size) return { ok: false, detail: `second names size ${second.size}` };
  const fail = (detail: string): ForkVerifyResult => ({ ok: false, detail });
  const proven = (detail: string): ForkVerifyResult => ({
    ok: true,
    proven: true,
    fork: f,
    detail,
  });

  if (f.first.kind === 'receipt') {
    if (f.reason !== 'receipt') return fail('a receipt is evidence only for reason receipt');
    const at = claimedTime(f.first.bytes, 'receipt');
    const k = at === undefined ? undefined : await keyFor(f.first.bytes, at);
    if (!k) return fail('first: no valid notary certificate in the file for it');
    const r = verifyReceipt(f.first.bytes, k.key, k.kid);
    if (!r.ok) return fail(`first: ${r.check}: ${r.detail}`);
    if (r.value.notaryId !== f.notaryId) return fail(`first: signed for '${r.value.notaryId}'`);
    if (r.value.entry.height !== second.size) return fail('the receipt is for another height');
    if (equalBytes(r.value.entryHash, second.head) && equalBytes(r.value.logRoot, second.logRoot))
      return fail('the receipt and the checkpoint agree');
    return proven(`entry ${second.size}: receipt and checkpoint name different trees`);
  }
  const first = await checkpoint(f.first.bytes, 'first');
  if (typeof first === 'string') return fail(first);
  switch (f.reason) {
    case 'same-size':
      if (first.size !== second.size) return fail('same-size: the sizes differ');
      if (equalBytes(first.head, second.head) && equalBytes(first.logRoot, second.logRoot))
        return fail('same-size: the checkpoints agree');
      return proven(`two checkpoints of size ${first.size} name different trees`);
    case 'not-prefix': {
      const [rootAt, ...proof] = f.proof;
      if (!rootAt || first.size <= second.size) return fail('not-prefix: sizes or proof');
      const c = verifyConsistency(second.size, first.size, rootAt, first.logRoot, proof);
      if (!c.ok) return fail(`not-prefix: the proof does not verify: ${c.check}`);
      if (equalBytes(rootAt, second.logRoot)) return fail('not-prefix: the roots agree');
      return proven(
        `the tree of size ${first.size} has root ${toHex(rootAt)} at size ${second.size}`,
      );
    }
    case 'inconsistent':
      return {
        ok: true,
        proven: false,
        fork: f,
        detail: 'both signed; the notary could not prove the later consistent with the earlier',
      };
    default:
      return fail(`reason ${f.reason} with a checkpoint as first statement`);
  }
}

/** The signing time a statement claims (read unverified, only to date the certificate check). */
function claimedTime(cose: Uint8Array, kind: 'checkpoint' | 'receipt'): number | undefined {
  const m = decodeSign1(cose);
  if (!m.ok) return undefined;
  if (kind === 'checkpoint') {
    const c = decodeCheckpointPayload(m.msg.payload);
    return c.ok ? c.value.time : undefined;
  }
  const r = decodeReceiptPayload(m.msg.payload);
  return r.ok ? r.value.entry.registeredAt : undefined;
}
