/**
 * Strict COSE_Sign1 decoding (RFC 9052 §4.2). Never throws: every rejection
 * names the check that failed. Two profiles:
 *  - 'medchain' (default): tag 18 required; the protected header is exactly the
 *    canonical {1: -7, 4: kid} that sign1() writes; nothing else is protected.
 *  - 'rfc9052': any conforming ES256 COSE_Sign1, tagged or not (§2 lets the
 *    context imply the type), alg/kid in either bucket. For interop vectors.
 * Both require deterministic CBOR throughout (see cbor.ts) and refuse `crit`,
 * since no extension header is understood here (RFC 9052 §3.1).
 */
import { Tag as CborTag } from 'cbor-x';
import { equalBytes } from './bytes.js';
import { decodeCbor } from './cbor.js';
import {
  COSE_LIMITS,
  COSE_SIGN1_TAG,
  HeaderLabel,
  type HeaderMap,
  protectedHeaderBytes,
  type Sign1,
} from './cose.js';
import { ES256 } from './signer.js';

export type CoseCheck =
  | 'size'
  | 'cbor'
  | 'non-canonical'
  | 'tag'
  | 'structure'
  | 'protected-header'
  | 'header'
  | 'crit'
  | 'alg'
  | 'kid'
  | 'payload'
  | 'signature-length'
  | 'key'
  | 'signature';

export interface CoseFailure {
  readonly ok: false;
  readonly check: CoseCheck;
  readonly detail: string;
}
export type DecodeSign1Result = { readonly ok: true; readonly msg: Sign1 } | CoseFailure;

export type CoseProfile = 'medchain' | 'rfc9052';
export interface DecodeSign1Options {
  readonly profile?: CoseProfile;
  /** Largest message accepted, in bytes (default COSE_LIMITS.maxBytes). */
  readonly maxBytes?: number;
}

export const coseFail = (check: CoseCheck, detail: string): CoseFailure => ({
  ok: false,
  check,
  detail,
});

export function decodeSign1(
  bytes: Uint8Array,
  options: DecodeSign1Options = {},
): DecodeSign1Result {
  const profile = options.profile ?? 'medchain';
  const maxBytes = options.maxBytes ?? COSE_LIMITS.maxBytes;
  if (!(bytes instanceof Uint8Array)) return coseFail('structure', 'message: not a byte array');
  if (bytes.length > maxBytes) return coseFail('size', `${bytes.length} bytes exceeds ${maxBytes}`);
  const decoded = decodeCbor(bytes);
  if (!decoded.ok) return coseFail(decoded.check, decoded.detail);

  let inner: unknown = decoded.value;
  const tagged = inner instanceof CborTag;
  if (inner instanceof CborTag) {
    if (inner.tag !== COSE_SIGN1_TAG) return coseFail('tag', `CBOR tag ${inner.tag}, not 18`);
    inner = inner.value;
  } else if (profile === 'medchain') {
    return coseFail('tag', 'untagged: the medchain profile requires tag 18');
  }
  if (!Array.isArray(inner) || inner.length !== 4) {
    return coseFail('structure', 'COSE_Sign1 is an array of 4 elements');
  }
  const [prot, unprot, payload, signature] = inner as unknown[];
  if (!(prot instanceof Uint8Array)) return coseFail('structure', 'protected: not a bstr');
  if (!(unprot instanceof Map)) return coseFail('structure', 'unprotected: not a map');
  if (payload === null || payload === undefined) {
    return coseFail('payload', 'detached payload (nil) is not supported');
  }
  if (!(payload instanceof Uint8Array)) return coseFail('structure', 'payload: not a bstr');
  if (!(signature instanceof Uint8Array)) return coseFail('structure', 'signature: not a bstr');

  const ph = protectedMap(prot);
  if (!ph.ok) return ph;
  const headers = checkHeaders(ph.map, unprot as Map<unknown, unknown>, profile);
  if (!headers.ok) return headers;
  if (profile === 'medchain') {
    // Exactly what sign1() writes: no other protected label, kid present, canonical bytes.
    if (headers.kid === undefined || !ph.map.has(HeaderLabel.kid)) {
      return coseFail('kid', 'kid (4) missing from the protected header');
    }
    if (headers.kid.length === 0) return coseFail('kid', 'kid (4) is empty');
    if (!equalBytes(prot, protectedHeaderBytes(headers.kid))) {
      return coseFail('protected-header', 'protected header is not exactly {1: -7, 4: kid}');
    }
  }
  if (signature.length !== 64) {
    return coseFail(
      'signature-length',
      `ES256 signature is 64 bytes r||s, got ${signature.length}`,
    );
  }
  const msg: Sign1 = {
    protectedBytes: prot,
    protectedHeader: ph.map,
    unprotectedHeader: unprot as HeaderMap,
    alg: ES256,
    kid: headers.kid,
    payload,
    signature,
    tagged,
  };
  return { ok: true, msg };
}

type MapResult = { readonly ok: true; readonly map: HeaderMap } | CoseFailure;

/** RFC 9052 §3: a zero-length bstr is the empty map; anything else must encode a map. */
function protectedMap(prot: Uint8Array): MapResult {
  if (prot.length === 0) return { ok: true, map: new Map() };
  if (prot.length > COSE_LIMITS.maxHeaderBytes) {
    return coseFail(
      'protected-header',
      `${prot.length} bytes exceeds ${COSE_LIMITS.maxHeaderBytes}`,
    );
  }
  const d = decodeCbor(prot);
  if (!d.ok) return coseFail('protected-header', d.detail);
  if (!(d.value instanceof Map)) return coseFail('protected-header', 'not a CBOR map');
  return { ok: true, map: d.value as HeaderMap };
}

type HeaderResult = { readonly ok: true; readonly kid: Uint8Array | undefined } | CoseFailure;

function checkHeaders(
  prot: HeaderMap,
  unprot: ReadonlyMap<unknown, unknown>,
  profile: CoseProfile,
): HeaderResult {
  for (const [name, map] of [
    ['protected', prot],
    ['unprotected', unprot],
  ] as const) {
    for (const label of map.keys()) {
      if (typeof label !== 'number' && typeof label !== 'string') {
        return coseFail('header', `${name}: labels are integers or text (RFC 9052 §3)`);
      }
      if (name === 'unprotected' && prot.has(label)) {
        return coseFail('header', `label ${label} in both buckets (RFC 9052 §3)`);
      }
    }
    if (map.has(HeaderLabel.crit)) return coseFail('crit', `${name}: crit (2) is not supported`);
  }
  const inUnprot = (l: number) => profile === 'rfc9052' && unprot.has(l);
  if (!prot.has(HeaderLabel.alg) && !inUnprot(HeaderLabel.alg)) {
    return coseFail('alg', 'alg (1) missing from the protected header');
  }
  const alg = prot.has(HeaderLabel.alg) ? prot.get(HeaderLabel.alg) : unprot.get(HeaderLabel.alg);
  if (alg !== ES256) return coseFail('alg', `alg ${String(alg)} is not ES256 (-7)`);
  if (profile === 'medchain' && unprot.has(HeaderLabel.kid)) {
    return coseFail('kid', 'kid (4) must be protected in the medchain profile');
  }
  const kid = prot.has(HeaderLabel.kid) ? prot.get(HeaderLabel.kid) : unprot.get(HeaderLabel.kid);
  if (kid !== undefined) {
    if (!(kid instanceof Uint8Array)) return coseFail('kid', 'kid (4) is not a bstr');
    if (kid.length > COSE_LIMITS.maxKidBytes) {
      return coseFail('kid', `kid is ${kid.length} bytes, at most ${COSE_LIMITS.maxKidBytes}`);
    }
  }
  return { ok: true, kid: kid === undefined ? undefined : Uint8Array.from(kid) };
}
