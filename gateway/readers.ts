/**
 * The readers every block is encrypted for: P-256 keys from SPKI PEM files (with a
 * configured kid), or reader certificates from Trent, validated with ca's validator
 * (role 'reader'); a certificate's kid is the reader id in it.
 */

import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { p256FromSpki } from '../ca/keys.js';
import { validateCertificate } from '../ca/validate.js';
import type { ReaderPublicKey } from '../core/body.js';
import { GatewayCode, GatewayError } from './errors.js';

export type ReaderSource =
  | { kid: string; publicKey: string }
  | { certificate: string; kid?: string | undefined };

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new GatewayError(GatewayCode.Config, `reader key ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

export async function loadReaders(
  sources: readonly ReaderSource[],
  trust: { root: string; crl?: string | undefined },
): Promise<ReaderPublicKey[]> {
  const out: ReaderPublicKey[] = [];
  for (const s of sources) {
    if ('publicKey' in s) {
      let spki: Uint8Array;
      try {
        spki = createPublicKey(read(s.publicKey)).export({ format: 'der', type: 'spki' });
      } catch (err) {
        if (err instanceof GatewayError) throw err;
        throw new GatewayError(
          GatewayCode.Config,
          `reader key ${s.publicKey}: not a PEM public key`,
        );
      }
      const pk = p256FromSpki(spki);
      if (!pk) throw new GatewayError(GatewayCode.Config, `reader key ${s.publicKey}: not P-256`);
      out.push({ kid: s.kid, publicKey: pk.point });
    } else {
      const v = await validateCertificate(read(s.certificate), {
        root: trust.root,
        crl: trust.crl,
        role: 'reader',
        at: new Date(),
        skewMs: 5 * 60_000,
      });
      if (!v.ok) {
        throw new GatewayError(
          GatewayCode.Config,
          `reader certificate ${s.certificate} is not valid (${v.reason}): ${v.detail}`,
        );
      }
      out.push({ kid: s.kid ?? v.id, publicKey: v.publicKey.point });
    }
  }
  if (new Set(out.map((r) => r.kid)).size !== out.length) {
    throw new GatewayError(GatewayCode.Config, 'readers: two readers share a kid');
  }
  return out;
}
