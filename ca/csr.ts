import { CaCode, CaError } from './errors.js';
import {
  DEFAULT_ORG,
  isParticipantId,
  isRole,
  nameField,
  parseRoleUri,
  type Role,
  roleUri,
  subjectName,
} from './identity.js';
import { type PublicKeyExport, p256FromSpki } from './keys.js';
import { type DigestSigner, tokenCrypto, tokenKeyPair } from './token-crypto.js';
import {
  Pkcs10CertificateRequest,
  Pkcs10CertificateRequestGenerator,
  SubjectAlternativeNameExtension,
} from './x509.js';

/** id-ce-subjectAltName (RFC 5280 §4.2.1.6). */
const SAN_OID = '2.5.29.17';

/** A CSR file larger than this is refused before parsing (a P-256 CSR is under 1 KiB). */
export const MAX_CSR_BYTES = 64 * 1024;

export interface CreateCsrOptions {
  signer: DigestSigner;
  keyLabel: string;
  /** SubjectPublicKeyInfo (DER) of the token key, e.g. `token.publicKey(label).spki`. */
  spki: Uint8Array;
  role: Role;
  id: string;
  org?: string | undefined;
}

/**
 * PKCS#10 request for a key on a token, signed on the token (proof of possession):
 * subject O=org, OU=role, CN=id and an extensionRequest with the SAN URI
 * urn:medchain:{role}:{id}. Returns PEM.
 */
export async function createCsr(opts: CreateCsrOptions): Promise<string> {
  if (!isRole(opts.role) || !isParticipantId(opts.id)) {
    throw new CaError(CaCode.BadInput, `role '${opts.role}' / id '${opts.id}' are not valid`);
  }
  const keys = await tokenKeyPair(opts.signer, opts.keyLabel, opts.spki);
  const csr = await Pkcs10CertificateRequestGenerator.create(
    {
      name: subjectName(opts.role, opts.id, opts.org ?? DEFAULT_ORG),
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new SubjectAlternativeNameExtension([{ type: 'url', value: roleUri(opts.role, opts.id) }]),
      ],
    },
    tokenCrypto,
  );
  return csr.toString('pem');
}

export interface ParsedCsr {
  request: Pkcs10CertificateRequest;
  publicKey: PublicKeyExport;
  /** OU and CN of the subject, when present. */
  role: string | undefined;
  id: string | undefined;
  /** Role and id of a urn:medchain SAN URI in the extensionRequest, when present. */
  san: { role: Role; id: string } | undefined;
}

function parseRequest(input: string | Uint8Array): Pkcs10CertificateRequest {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size === 0 || size > MAX_CSR_BYTES) {
    throw new CaError(
      CaCode.CsrMalformed,
      `the CSR is ${size} bytes; expected a PKCS#10 request under ${MAX_CSR_BYTES} bytes (PEM or DER).`,
    );
  }
  try {
    const text = typeof input === 'string' ? input : undefined;
    if (text !== undefined && !text.includes('-----BEGIN CERTIFICATE REQUEST-----')) {
      throw new Error('no "BEGIN CERTIFICATE REQUEST" PEM block');
    }
    return new Pkcs10CertificateRequest(text ?? Buffer.from(input as Uint8Array));
  } catch (err) {
    throw new CaError(
      CaCode.CsrMalformed,
      `the CSR cannot be parsed as PKCS#10 (${(err as Error).message}). Create it with 'medchain hsm csr'.`,
      { cause: err },
    );
  }
}

/**
 * Parses a PEM or DER CSR and checks its self-signature (proof that the requester
 * holds the private key) and that its key is EC P-256. Throws CaError.
 */
export async function parseCsr(input: string | Uint8Array): Promise<ParsedCsr> {
  const request = parseRequest(input);
  let sanUris: string[] = [];
  let subjectRole: string | undefined;
  let subjectId: string | undefined;
  let spki: Uint8Array;
  try {
    spki = new Uint8Array(request.publicKey.rawData);
    subjectRole = nameField(request.subjectName, 'OU');
    subjectId = nameField(request.subjectName, 'CN');
    const raw = request.getExtension(SAN_OID);
    const ext = raw ? new SubjectAlternativeNameExtension(raw.rawData) : undefined;
    sanUris = ext ? ext.names.items.filter((n) => n.type === 'url').map((n) => n.value) : [];
  } catch (err) {
    throw new CaError(
      CaCode.CsrMalformed,
      `the CSR's contents cannot be read (${(err as Error).message}).`,
      {
        cause: err,
      },
    );
  }
  const publicKey = p256FromSpki(spki);
  if (!publicKey) {
    throw new CaError(
      CaCode.KeyUnsupported,
      'the CSR key is not EC P-256; generate the key with `medchain hsm keygen` (P-256 on the token).',
    );
  }
  let valid = false;
  try {
    valid = await request.verify();
  } catch {
    valid = false;
  }
  if (!valid) {
    throw new CaError(
      CaCode.CsrSignature,
      "the CSR's signature does not verify with the key it contains: it was altered or not signed by that key. Ask the participant for a new CSR.",
    );
  }
  if (sanUris.length > 1) {
    throw new CaError(
      CaCode.CsrMismatch,
      `the CSR carries ${sanUris.length} SAN URIs; expected one urn:medchain URI.`,
    );
  }
  const san = sanUris[0] === undefined ? undefined : parseRoleUri(sanUris[0]);
  if (sanUris[0] !== undefined && !san) {
    throw new CaError(
      CaCode.CsrMismatch,
      `the CSR's SAN URI '${sanUris[0]}' is not urn:medchain:{role}:{id}.`,
    );
  }
  return { request, publicKey, role: subjectRole, id: subjectId, san };
}
