/**
 * The reader's private key for `medchain export`: a P-256 key on a PKCS#11 token
 * (ECDH runs on the token, the key never leaves it) or a software key in a PEM file.
 * The kid is the reader id the gateways seal for (their `readers` config; for a
 * reader certificate, the id in it).
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ReaderKey } from '../core/body.js';
import { softwareRecipient } from '../core/hpke.js';
import { FhirCode, FhirError } from '../fhir/errors.js';
import type { Token } from '../hsm/token.js';

export function readerKeyFromPem(path: string, kid: string): ReaderKey {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FhirError(
      FhirCode.ReaderKey,
      `cannot read the reader key ${path}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  let d: string | undefined;
  try {
    const key = createPrivateKey(text);
    if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
      d = key.export({ format: 'jwk' }).d;
    }
  } catch (err) {
    throw new FhirError(FhirCode.ReaderKey, `${path} is not a PEM private key`, { cause: err });
  }
  if (d === undefined)
    throw new FhirError(FhirCode.ReaderKey, `${path} is not a P-256 private key`);
  return { kid, ...softwareRecipient(Buffer.from(d, 'base64url')) };
}

export function readerKeyOnToken(token: Token, keyLabel: string, kid: string): ReaderKey {
  const info = token.keyInfo(keyLabel);
  if (!info.usage.includes('derive')) {
    throw new FhirError(
      FhirCode.ReaderKey,
      `key '${keyLabel}' on token '${token.label}' is not a key-agreement (derive) key`,
    );
  }
  return {
    kid,
    publicKey: info.publicKey.point,
    deriveSharedSecret: (enc) => token.deriveSharedSecret(keyLabel, enc),
  };
}
