/**
 * Provisioning for `medchain demo`: a SoftHSM2 token per participant, Trent on its
 * own token, and for every notary and gateway a signing certificate for a key made
 * on its token and a TLS certificate for a software transport key; a reader key on
 * its token. The same steps an operator takes with `medchain hsm` and `medchain ca`.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertificateAuthority } from '../ca/authority.js';
import { createCrl, crlPem } from '../ca/crl.js';
import { createCsr } from '../ca/csr.js';
import { softwareDigestSigner } from '../ca/keys.js';
import { createSoftHsmSandbox, initToken, type SoftHsmSandbox } from '../hsm/softhsm.js';
import { Token } from '../hsm/token.js';

export interface DemoParticipant {
  readonly role: 'notary' | 'gateway';
  readonly id: string;
  /** Token label = id; signing key label = id. */
  readonly pinFile: string;
  readonly signCert: string;
  readonly tlsCert: string;
  readonly tlsKey: string;
}

export interface DemoPki {
  readonly sandbox: SoftHsmSandbox;
  readonly rootPath: string;
  readonly crlPath: string;
  readonly readerCert: string;
  readonly participants: ReadonlyMap<string, DemoParticipant>;
}

const pem = (s: string) => (s.endsWith('\n') ? s : `${s}\n`);

export async function provisionPki(
  dir: string,
  layout: { notaries: readonly string[]; gateways: readonly string[]; reader: string },
): Promise<DemoPki> {
  for (const sub of ['hsm', 'pins', 'certs', 'ca'])
    mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
  const sandbox = createSoftHsmSandbox({ dir: join(dir, 'hsm'), useInProcess: true });
  const pins = new Map<string, string>();
  const labels = ['trent', ...layout.notaries, ...layout.gateways, layout.reader];
  for (const label of labels) {
    const pin = randomBytes(8).toString('hex');
    initToken({ label, soPin: randomBytes(8).toString('hex'), userPin: pin });
    pins.set(label, pin);
    writeFileSync(join(dir, 'pins', `${label}.pin`), `${pin}\n`, { mode: 0o600 });
  }
  const open = (label: string) => Token.open({ label, pin: pins.get(label) ?? '', sessions: 1 });

  const trent = open('trent');
  let ca: CertificateAuthority | undefined;
  try {
    const root = trent.generateKey('ca-root');
    ca = await CertificateAuthority.init({
      dbPath: join(dir, 'ca', 'ca.db'),
      signer: trent,
      keyLabel: 'ca-root',
      spki: root.publicKey.spki,
      name: 'medchain demo Trent',
    });
    const rootPath = join(dir, 'certs', 'root.pem');
    writeFileSync(rootPath, pem(ca.rootPem));

    const participants = new Map<string, DemoParticipant>();
    const roles: [string, 'notary' | 'gateway'][] = [
      ...layout.notaries.map((id) => [id, 'notary'] as [string, 'notary']),
      ...layout.gateways.map((id) => [id, 'gateway'] as [string, 'gateway']),
    ];
    for (const [id, role] of roles) {
      const token = open(id);
      let signPem: string;
      try {
        const key = token.generateKey(id);
        const csr = await createCsr({
          signer: token,
          keyLabel: id,
          spki: key.publicKey.spki,
          role,
          id,
        });
        signPem = (await ca.issue({ role, id, csr })).certificate.toString('pem');
      } finally {
        token.close();
      }
      const tls = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const tlsCsr = await createCsr({
        signer: softwareDigestSigner(tls.privateKey),
        keyLabel: 'tls',
        spki: tls.publicKey.export({ format: 'der', type: 'spki' }),
        role,
        id,
      });
      const tlsPem =
        // The demo runs on this machine: the names a TLS client checks the service by.
        (
          await ca.issue({
            role,
            id,
            csr: tlsCsr,
            purpose: 'tls',
            hosts: { dns: ['localhost'], ip: ['127.0.0.1'] },
          })
        ).certificate.toString('pem');
      const p: DemoParticipant = {
        role,
        id,
        pinFile: join(dir, 'pins', `${id}.pin`),
        signCert: join(dir, 'certs', `${id}.sign.pem`),
        tlsCert: join(dir, 'certs', `${id}.tls.pem`),
        tlsKey: join(dir, 'certs', `${id}.tls.key`),
      };
      writeFileSync(p.signCert, pem(signPem));
      writeFileSync(p.tlsCert, pem(tlsPem));
      writeFileSync(p.tlsKey, tls.privateKey.export({ format: 'pem', type: 'pkcs8' }), {
        mode: 0o600,
      });
      participants.set(id, p);
    }

    const readerToken = open(layout.reader);
    let readerCert: string;
    try {
      const k = readerToken.generateKey(layout.reader, 'derive');
      const issued = await ca.issue({
        role: 'reader',
        id: layout.reader,
        readerSpki: k.publicKey.spki,
      });
      readerCert = join(dir, 'certs', `${layout.reader}.pem`);
      writeFileSync(readerCert, pem(issued.certificate.toString('pem')));
    } finally {
      readerToken.close();
    }
    const crlPath = join(dir, 'certs', 'crl.pem');
    writeFileSync(crlPath, crlPem(await createCrl(ca, { days: 7 })));
    return { sandbox, rootPath, crlPath, readerCert, participants };
  } finally {
    await ca?.close();
    trent.close();
  }
}
