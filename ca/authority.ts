import { existsSync } from 'node:fs';
import type { SqliteDb } from '../ops/sqlite.js';
import { parseCsr } from './csr.js';
import { CaCode, CaError } from './errors.js';
import {
  assertLeafRole,
  assertParticipantId,
  DEFAULT_ORG,
  isPurpose,
  type LeafRole,
  type Purpose,
} from './identity.js';
import { p256FromSpki } from './keys.js';
import { assertCrlUrl, assertHostNames } from './names.js';
import {
  createLeafCertificate,
  createRootCertificate,
  type HostNames,
  keyMismatch,
  purposeOf,
  randomSerial,
  validity,
} from './profile.js';
import { assertReason, type RevocationReason } from './reasons.js';
import * as store from './store.js';
import { type DigestSigner, tokenKeyPair, tokenPrivateKey } from './token-crypto.js';
import { SubjectAlternativeNameExtension, X509Certificate } from './x509.js';

export type { CertificateRecord, RevocationRecord } from './store.js';

export interface InitOptions {
  dbPath: string;
  signer: DigestSigner;
  /** Label of the root key on the CA token (generated there beforehand). */
  keyLabel: string;
  /** SubjectPublicKeyInfo (DER) of that key. */
  spki: Uint8Array;
  /** CN of the root (default "medchain Trent"). */
  name?: string | undefined;
  /** O of every subject this CA issues (default "medchain"). */
  org?: string | undefined;
  /** Id in the root's SAN URI urn:medchain:ca:{caId} (default "trent"). */
  caId?: string | undefined;
  days?: number | undefined;
  notBefore?: Date | undefined;
  notAfter?: Date | undefined;
  /** HTTP URL of the CRL (`medchain ca serve`), written into every certificate issued. */
  crlUrl?: string | undefined;
}

export interface IssueOptions {
  role: string;
  id: string;
  /** PKCS#10 request, PEM or DER; its self-signature is checked (proof of possession). */
  csr?: string | Uint8Array | undefined;
  /**
   * Readers only: the SPKI (DER) of a key-agreement key, which cannot sign a CSR.
   * The operator vouches for its origin instead (see docs/FORMAT-certificates.md).
   */
  readerSpki?: Uint8Array | undefined;
  /** 'signing' (default): the token key's certificate; 'tls': a transport key's (CSR required). */
  purpose?: Purpose | undefined;
  /** TLS only: dNSName/iPAddress SANs, the hosts the service answers on. */
  hosts?: HostNames | undefined;
  days?: number | undefined;
  notBefore?: Date | undefined;
  notAfter?: Date | undefined;
}

export interface Issued {
  record: store.CertificateRecord;
  certificate: X509Certificate;
}

const DEFAULT_ROOT_DAYS = 3650;
const DEFAULT_LEAF_DAYS = 365;

/**
 * Trent: one CA database plus, for issuing and CRLs, a signer for the root key on
 * the CA token. Listing and revoking need no token.
 */
export class CertificateAuthority {
  readonly db: SqliteDb;
  meta: store.CaMeta;
  readonly root: X509Certificate;
  readonly #signer: DigestSigner | undefined;

  private constructor(
    db: SqliteDb,
    meta: store.CaMeta,
    root: X509Certificate,
    signer: DigestSigner | undefined,
  ) {
    this.db = db;
    this.meta = meta;
    this.root = root;
    this.#signer = signer;
  }

  get rootPem(): string {
    return this.root.toString('pem');
  }

  /** Creates the database and the self-signed root. Refuses a database already initialised. */
  static async init(opts: InitOptions): Promise<CertificateAuthority> {
    const org = opts.org ?? DEFAULT_ORG;
    const caId = opts.caId ?? 'trent';
    const name = opts.name ?? 'medchain Trent';
    assertParticipantId(caId);
    if (name.length === 0 || name.length > 64 || org.length === 0 || org.length > 64) {
      throw new CaError(
        CaCode.BadInput,
        'name and org: 1 to 64 characters (X.520 ub-common-name).',
      );
    }
    if (!p256FromSpki(opts.spki)) {
      throw new CaError(CaCode.KeyUnsupported, 'the CA key must be EC P-256.');
    }
    const span = validity({ ...opts, defaultDays: DEFAULT_ROOT_DAYS });
    const crlUrl = opts.crlUrl === undefined ? undefined : assertCrlUrl(opts.crlUrl);
    const db = await store.openDb(opts.dbPath);
    try {
      if (await store.readMeta(db)) {
        throw new CaError(
          CaCode.AlreadyInitialised,
          `${opts.dbPath} already holds a CA; a CA is initialised once. Use another --db to start a new one.`,
        );
      }
      const keys = await tokenKeyPair(opts.signer, opts.keyLabel, opts.spki);
      const serial = randomSerial();
      const root = await createRootCertificate({
        ...span,
        name,
        caId,
        org,
        serial,
        publicKey: keys.publicKey,
        signingKey: keys.privateKey,
      });
      if (!(await root.verify({ publicKey: keys.publicKey, signatureOnly: true }))) {
        throw keyMismatch(opts.keyLabel, 'root certificate');
      }
      const now = new Date().toISOString();
      const meta: store.CaMeta = {
        schemaVersion: store.SCHEMA_VERSION,
        keyLabel: opts.keyLabel,
        org,
        rootSerial: serial,
        createdAt: now,
        crlUrl,
      };
      await db.transaction(async (tx) => {
        await store.writeMeta(tx, meta);
        await store.insertCertificate(tx, recordOf(root, 'ca', caId, now));
      });
      return new CertificateAuthority(db, meta, root, opts.signer);
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  /** Opens an initialised CA database; `signer` is needed for issue() and createCrl(). */
  static async open(opts: {
    dbPath: string;
    signer?: DigestSigner | undefined;
  }): Promise<CertificateAuthority> {
    if (!existsSync(opts.dbPath)) {
      throw new CaError(
        CaCode.NotInitialised,
        `${opts.dbPath} does not exist. Create the CA first with 'medchain ca init'.`,
      );
    }
    const db = await store.openDb(opts.dbPath);
    try {
      const meta = await store.readMeta(db);
      const rootRec = meta && (await store.getCertificate(db, meta.rootSerial));
      if (!meta || !rootRec) {
        throw new CaError(
          CaCode.NotInitialised,
          `${opts.dbPath} holds no CA. Create one with 'medchain ca init'.`,
        );
      }
      return new CertificateAuthority(db, meta, new X509Certificate(rootRec.pem), opts.signer);
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  #requireSigner(): DigestSigner {
    if (!this.#signer) {
      throw new CaError(
        CaCode.BadInput,
        'this operation signs with the CA key: open the CA token.',
      );
    }
    return this.#signer;
  }

  /**
   * Issues a leaf for role/id from a CSR (or, for readers, a bare key). All checks run
   * before anything is written; the duplicate check and the insert share one transaction.
   */
  async issue(opts: IssueOptions): Promise<Issued> {
    const role: LeafRole = assertLeafRole(opts.role);
    const id = assertParticipantId(opts.id);
    const purpose = opts.purpose ?? 'signing';
    if (!isPurpose(purpose)) {
      throw new CaError(CaCode.BadInput, `purpose '${String(purpose)}': signing or tls`);
    }
    if (purpose === 'tls' && opts.readerSpki !== undefined) {
      throw new CaError(
        CaCode.ProofOfPossession,
        'a TLS certificate needs a CSR signed with the TLS key (openssl req or medchain hsm csr).',
      );
    }
    const hosts = assertHostNames(opts.hosts ?? {}, purpose);
    const spki = await requestedKey(role, id, opts);
    const span = validity({ ...opts, defaultDays: DEFAULT_LEAF_DAYS });
    return this.#issue({ role, id, spki, purpose, hosts, span });
  }

  /** The shared tail of issue() and renew(): checks, then duplicate check and insert in one transaction. */
  async #issue(o: {
    role: LeafRole;
    id: string;
    spki: Uint8Array;
    purpose: Purpose;
    hosts: HostNames;
    span: { notBefore: Date; notAfter: Date };
    /** Renewal: unrevoked certificates for this same key are not duplicates. */
    sameKeyAs?: Buffer | undefined;
  }): Promise<Issued> {
    const { role, id, purpose, span } = o;
    if (span.notAfter.getTime() > this.root.notAfter.getTime()) {
      throw new CaError(
        CaCode.Validity,
        `the certificate would outlive the root (root expires ${this.root.notAfter.toISOString()}); ask for fewer days.`,
      );
    }
    const signer = this.#requireSigner();
    return this.db.transaction(async (tx) => {
      const existing = (await store.findUnrevoked(tx, role, id)).filter((c) => {
        const x = new X509Certificate(c.pem);
        if (purposeOf(x) !== purpose) return false;
        return !(o.sameKeyAs && Buffer.from(x.publicKey.rawData).equals(o.sameKeyAs));
      });
      if (existing.length > 0) {
        throw new CaError(
          CaCode.DuplicateId,
          `${role} '${id}' already holds unrevoked ${purpose} certificate ${existing.map((c) => c.serial).join(', ')}. Revoke it first (reason superseded) to issue a new one.`,
        );
      }
      const cert = await createLeafCertificate({
        ...span,
        role,
        id,
        org: this.meta.org,
        serial: randomSerial(),
        spki: o.spki,
        root: this.root,
        signingKey: tokenPrivateKey(signer, this.meta.keyLabel),
        purpose,
        hosts: o.hosts,
        crlUrl: this.meta.crlUrl,
      });
      if (!(await cert.verify({ publicKey: this.root.publicKey, signatureOnly: true }))) {
        throw keyMismatch(this.meta.keyLabel, 'certificate');
      }
      const record = recordOf(cert, role, id, new Date().toISOString());
      await store.insertCertificate(tx, record);
      return { record, certificate: cert };
    });
  }

  /**
   * Renewal: a new certificate for the same key, role, id, purpose and host names as
   * an unrevoked one (the key's possession was proven when that one was issued). The
   * old certificate is not revoked: it stays valid for what it signed until its own
   * notAfter, and the participant switches files at its next restart.
   */
  async renew(
    serialInput: string,
    opts: { days?: number | undefined; now?: Date | undefined } = {},
  ): Promise<Issued> {
    const serial = normaliseSerial(serialInput);
    const old = await store.getCertificate(this.db, serial);
    if (!old) {
      throw new CaError(
        CaCode.SerialUnknown,
        `no certificate with serial ${serial}; check 'medchain ca list'.`,
      );
    }
    if (old.role === 'ca' || old.revocation) {
      throw new CaError(
        CaCode.BadInput,
        old.role === 'ca'
          ? 'the root is not renewed; a new root is a new CA.'
          : `certificate ${serial} was revoked (${old.revocation?.reason}): issue a new one from a CSR instead.`,
      );
    }
    const cert = new X509Certificate(old.pem);
    const san = cert.getExtension(SubjectAlternativeNameExtension)?.names.items ?? [];
    return this.#issue({
      role: old.role,
      id: old.id,
      spki: new Uint8Array(cert.publicKey.rawData),
      purpose: purposeOf(cert),
      hosts: {
        dns: san.filter((n) => n.type === 'dns').map((n) => n.value),
        ip: san.filter((n) => n.type === 'ip').map((n) => n.value),
      },
      span: validity({ days: opts.days, now: opts.now, defaultDays: DEFAULT_LEAF_DAYS }),
      sameKeyAs: Buffer.from(cert.publicKey.rawData),
    });
  }

  /** Records a revocation. Unknown serials, the root and second revocations are refused. */
  async revoke(
    serialInput: string,
    reasonInput: string,
    at: Date = new Date(),
  ): Promise<store.RevocationRecord> {
    const serial = normaliseSerial(serialInput);
    const reason: RevocationReason = assertReason(reasonInput);
    return this.db.transaction(async (tx) => {
      const cert = await store.getCertificate(tx, serial);
      if (!cert) {
        throw new CaError(
          CaCode.SerialUnknown,
          `no certificate with serial ${serial} was issued by this CA; check 'medchain ca list'.`,
        );
      }
      if (cert.role === 'ca') {
        throw new CaError(
          CaCode.BadInput,
          'the root cannot revoke itself; retire a compromised root by distributing a new one.',
        );
      }
      if (cert.revocation) {
        throw new CaError(
          CaCode.AlreadyRevoked,
          `certificate ${serial} was already revoked at ${cert.revocation.revokedAt} (${cert.revocation.reason}).`,
        );
      }
      const rev = {
        serial,
        reason,
        revokedAt: new Date(Math.floor(at.getTime() / 1000) * 1000).toISOString(),
      };
      await store.insertRevocation(tx, rev);
      return rev;
    });
  }

  /** Certificates issued from now on name this CRL Distribution Point. */
  async setCrlUrl(url: string): Promise<void> {
    const crlUrl = assertCrlUrl(url);
    await store.writeCrlUrl(this.db, crlUrl);
    this.meta = { ...this.meta, crlUrl };
  }

  list(): Promise<store.CertificateRecord[]> {
    return store.listCertificates(this.db);
  }

  revocations(): Promise<store.RevocationRecord[]> {
    return store.listRevocations(this.db);
  }

  /** The signer for the root key (for the CRL). */
  get signer(): DigestSigner {
    return this.#requireSigner();
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

async function requestedKey(role: LeafRole, id: string, opts: IssueOptions): Promise<Uint8Array> {
  if (opts.csr !== undefined && opts.readerSpki !== undefined) {
    throw new CaError(CaCode.BadInput, 'give either a CSR or a reader public key, not both.');
  }
  if (opts.readerSpki !== undefined) {
    if (role !== 'reader') {
      throw new CaError(
        CaCode.ProofOfPossession,
        `a ${role} must prove possession of its key with a CSR signed on its token ('medchain hsm csr').`,
      );
    }
    if (!p256FromSpki(opts.readerSpki)) {
      throw new CaError(CaCode.KeyUnsupported, 'the reader public key is not EC P-256.');
    }
    return opts.readerSpki;
  }
  if (opts.csr === undefined) {
    throw new CaError(CaCode.BadInput, 'a CSR is required (medchain hsm csr).');
  }
  const csr = await parseCsr(opts.csr);
  const mismatch: string[] = [];
  if (csr.role !== role) mismatch.push(`subject OU '${csr.role ?? '(none)'}' ≠ role '${role}'`);
  if (csr.id !== id) mismatch.push(`subject CN '${csr.id ?? '(none)'}' ≠ id '${id}'`);
  if (csr.san && (csr.san.role !== role || csr.san.id !== id)) {
    mismatch.push(`SAN urn:medchain:${csr.san.role}:${csr.san.id} ≠ ${role}:${id}`);
  }
  if (mismatch.length > 0) {
    throw new CaError(
      CaCode.CsrMismatch,
      `the CSR asks for another identity than --role/--id: ${mismatch.join('; ')}. Check who sent it, or ask for a CSR made with the right --role and --id.`,
    );
  }
  return csr.publicKey.spki;
}

/** Lowercase hex, colons and a 0x prefix dropped, leading zero bytes removed. */
export function normaliseSerial(input: string): string {
  const hex = input.trim().toLowerCase().replace(/^0x/, '').replace(/:/g, '');
  if (!/^[0-9a-f]{1,42}$/.test(hex)) {
    throw new CaError(CaCode.SerialUnknown, `'${input}' is not a hexadecimal certificate serial.`);
  }
  const even = hex.length % 2 === 1 ? `0${hex}` : hex;
  return even.replace(/^(00)+(?=..)/, '');
}

function recordOf(
  cert: X509Certificate,
  role: store.CertificateRecord['role'],
  id: string,
  issuedAt: string,
): store.CertificateRecord {
  return {
    serial: normaliseSerial(cert.serialNumber),
    role,
    id,
    subject: cert.subject,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    pem: cert.toString('pem'),
    issuedAt,
  };
}
