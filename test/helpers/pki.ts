/**
 * A throw-away PKI for tests: Trent on a SoftHSM token (the ca/ library, no shortcuts
 * in what gets signed) and named participants, each with
 *
 *   - a signing key generated ON a token (label = the participant id) and its Trent
 *     certificate, issued from a CSR signed on the token (what blocks, receipts and
 *     checkpoints are signed with: what auditors rely on);
 *   - a software P-256 TLS client/server key (PEM, 0600) and its own Trent certificate
 *     with the same role and id (Node's TLS cannot use a PKCS#11 key).
 *
 * Files land in `pki.dir`: root.pem, crl.pem, {id}.sign.pem, {id}.tls.pem, {id}.tls.key.
 *
 *   const pki = await createTestPki(t);
 *   const gw = await pki.participant('gateway', 'gw-1');
 *   const signer = await pki.signer(gw);          // core Signer on the token, kid = kidOfCertificate
 *   await pki.revoke(gw.tls.serial); await pki.writeCrl();
 *
 * The TLS certificate is Trent's `purpose: 'tls'` certificate for the same role and id
 * (extendedKeyUsage serverAuth + clientAuth), issued from a CSR signed by the TLS key.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority, normaliseSerial } from '../../ca/authority.js';
import { createCrl, crlPem } from '../../ca/crl.js';
import { createCsr } from '../../ca/csr.js';
import type { LeafRole } from '../../ca/identity.js';
import { softwareDigestSigner } from '../../ca/keys.js';

import type { X509Crl } from '../../ca/x509.js';
import { kidOfCertificate } from '../../core/kid.js';
import { ES256, type Signer } from '../../core/signer.js';
import { ChildSigner } from '../../hsm/child-signer.js';
import { Token } from '../../hsm/token.js';
import { softHsmFixture, USER_PIN } from './softhsm.js';

export const CA_TOKEN = 'pki-trent';
const LOCAL_HOSTS = { dns: ['localhost'], ip: ['127.0.0.1'] };
export const PARTICIPANT_TOKEN = 'pki-parts';

type Teardown = { teardown(fn: () => unknown): void };

export interface PkiCert {
  readonly pem: string;
  readonly der: Uint8Array;
  /** Where the PEM was written. */
  readonly path: string;
  /** Lowercase hex, as ca/ records it. */
  readonly serial: string;
}

export interface PkiParticipant {
  readonly role: LeafRole;
  readonly id: string;
  /** Token and key label of the signing key (label = id); PIN is USER_PIN. */
  readonly token: string;
  readonly keyLabel: string;
  readonly pin: string;
  readonly signing: PkiCert & { readonly kid: Uint8Array };
  readonly tls: PkiCert & { readonly keyPath: string; readonly keyPem: string };
}

export interface CertOptions {
  days?: number;
  notBefore?: Date;
  notAfter?: Date;
}

export interface TestPki {
  readonly dir: string;
  readonly ca: CertificateAuthority;
  readonly rootPem: string;
  readonly rootPath: string;
  /** Where writeCrl() puts the CRL (PEM). */
  readonly crlPath: string;
  participant(role: LeafRole, id: string, opts?: CertOptions): Promise<PkiParticipant>;
  revoke(serial: string, reason?: string): Promise<void>;
  /** Signs a fresh CRL over every revocation, writes it to crlPath, returns it. */
  writeCrl(): Promise<X509Crl>;
  /** A core Signer for the participant's token key (a ChildSigner, closed with the test). */
  signer(p: PkiParticipant): Promise<Signer>;
}

export interface PkiOptions {
  /** Initialise the two SoftHSM tokens in a fresh sandbox (default true). */
  fixture?: boolean;
}

export async function createTestPki(t: Teardown, opts: PkiOptions = {}): Promise<TestPki> {
  if (opts.fixture !== false) softHsmFixture(t, [CA_TOKEN, PARTICIPANT_TOKEN]);
  const dir = mkdtempSync(join(tmpdir(), 'medchain-pki-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const caToken = Token.open({ label: CA_TOKEN, pin: USER_PIN, sessions: 2 });
  t.teardown(() => caToken.close());
  const rootKey = caToken.generateKey('ca-root');
  const ca = await CertificateAuthority.init({
    dbPath: join(dir, 'ca.db'),
    signer: caToken,
    keyLabel: 'ca-root',
    spki: rootKey.publicKey.spki,
  });
  t.teardown(() => ca.close());
  const rootPath = join(dir, 'root.pem');
  writeFileSync(rootPath, ca.rootPem);
  const crlPath = join(dir, 'crl.pem');

  const participant = async (
    role: LeafRole,
    id: string,
    o: CertOptions = {},
  ): Promise<PkiParticipant> => {
    const tok = Token.open({ label: PARTICIPANT_TOKEN, pin: USER_PIN, sessions: 1 });
    let csr: string;
    try {
      const info = tok.hasKey(id) ? tok.keyInfo(id) : tok.generateKey(id);
      csr = await createCsr({ signer: tok, keyLabel: id, spki: info.publicKey.spki, role, id });
    } finally {
      tok.close();
    }
    const issued = await ca.issue({ role, id, csr, ...o });
    const signDer = new Uint8Array(issued.certificate.rawData);
    const signPath = join(dir, `${id}.sign.pem`);
    writeFileSync(signPath, issued.record.pem);

    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const tlsCsr = await createCsr({
      signer: softwareDigestSigner(privateKey),
      keyLabel: 'tls',
      spki: publicKey.export({ format: 'der', type: 'spki' }),
      role,
      id,
    });
    // Tests reach every service on 127.0.0.1 or localhost: named so TLS clients that check
    // host names (mosquitto_sub, openssl -verify_ip) accept the certificate.
    const cert = (
      await ca.issue({ role, id, csr: tlsCsr, purpose: 'tls', hosts: LOCAL_HOSTS, ...o })
    ).certificate;
    const tlsPem = cert.toString('pem');
    const keyPath = join(dir, `${id}.tls.key`);
    writeFileSync(keyPath, keyPem, { mode: 0o600 });
    const tlsPath = join(dir, `${id}.tls.pem`);
    writeFileSync(tlsPath, tlsPem);
    return {
      role,
      id,
      token: PARTICIPANT_TOKEN,
      keyLabel: id,
      pin: USER_PIN,
      signing: {
        pem: issued.record.pem,
        der: signDer,
        path: signPath,
        serial: issued.record.serial,
        kid: kidOfCertificate(signDer),
      },
      tls: {
        pem: tlsPem,
        der: new Uint8Array(cert.rawData),
        path: tlsPath,
        serial: normaliseSerial(cert.serialNumber),
        keyPath,
        keyPem,
      },
    };
  };

  const signer = async (p: PkiParticipant): Promise<Signer> => {
    const child = await ChildSigner.start({ token: p.token, pin: p.pin, keys: [p.keyLabel] });
    t.teardown(() => child.close());
    return {
      alg: ES256,
      kid: p.signing.kid,
      signDigest: (d) => child.signDigest(p.keyLabel, d),
    };
  };

  return {
    dir,
    ca,
    rootPem: ca.rootPem,
    rootPath,
    crlPath,
    participant,
    signer,
    async revoke(serial, reason = 'keyCompromise') {
      await ca.revoke(serial, reason);
    },
    async writeCrl() {
      const crl = await createCrl(ca);
      writeFileSync(crlPath, `${crlPem(crl)}\n`);
      return crl;
    },
  };
}
