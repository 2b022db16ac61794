import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import t from 'tap';
import { createCrl } from '../../ca/crl.js';
import { keyUsageFor, roleUri, subjectName } from '../../ca/identity.js';
import { MEDCHAIN_SIGNING_EKU, randomSerial, TLS_EKUS } from '../../ca/profile.js';
import { tokenCrypto, tokenPrivateKey } from '../../ca/token-crypto.js';
import { type ValidationPolicy, validateCertificate } from '../../ca/validate.js';
import {
  BasicConstraintsExtension,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  X509CertificateGenerator,
} from '../../ca/x509.js';
import { initCa, participantCsr, tempDir, tokens } from '../helpers/ca.js';

const tok = tokens(t, ['trent', 'mallory', 'clinic']);
const trent = tok.trent!;
const clinic = tok.clinic!;
const dir = tempDir(t);
// Backdated so that certificates which expired in the past still chain to a valid root.
const ca = await initCa(trent, join(dir, 'ca.db'), {
  notBefore: new Date(Date.now() - 30 * 86_400_000),
});
// Same default name as Trent: only the signature tells them apart.
const foreign = await initCa(tok.mallory!, join(dir, 'foreign.db'));
const other = await initCa(tok.mallory!, join(dir, 'other.db'), {
  keyLabel: 'other-root',
  name: 'Other CA',
});
t.teardown(async () => {
  await ca.close();
  await foreign.close();
  await other.close();
});

const DAY = 86_400_000;
const now = new Date();
const policy = (extra: Partial<ValidationPolicy> = {}): ValidationPolicy => ({
  root: ca.rootPem,
  role: 'gateway',
  at: new Date(),
  skewMs: 0,
  ...extra,
});
const csr = await participantCsr(clinic, 'gw', 'gateway', 'gw-1');
const gw = (await ca.issue({ csr, role: 'gateway', id: 'gw-1', days: 30 })).certificate;
const gwPem = gw.toString('pem');

t.test('a good certificate passes; root, role and id are what it says', async (t) => {
  t.match(await validateCertificate(gwPem, policy({ id: 'gw-1' })), {
    ok: true,
    role: 'gateway',
    id: 'gw-1',
  });
  t.match(await validateCertificate(gw, policy()), { ok: true }, 'parsed input is accepted');
});

t.test('wrong role and wrong id', async (t) => {
  t.match(await validateCertificate(gwPem, policy({ role: 'notary' })), {
    ok: false,
    reason: 'wrong-role',
  });
  t.match(await validateCertificate(gwPem, policy({ id: 'gw-2' })), {
    ok: false,
    reason: 'wrong-id',
  });
  t.match(await validateCertificate(ca.rootPem, policy()), { ok: false, reason: 'wrong-role' });
});

t.test('expired and not-yet-valid, with the skew allowance', async (t) => {
  const oldCsr = await participantCsr(clinic, 'old', 'device', 'pulse-1');
  const old = await ca.issue({
    csr: oldCsr,
    role: 'device',
    id: 'pulse-1',
    notBefore: new Date(now.getTime() - 10 * DAY),
    notAfter: new Date(now.getTime() - DAY),
  });
  const pem = old.certificate.toString('pem');
  const dev = { role: 'device' as const };
  t.match(await validateCertificate(pem, policy(dev)), { ok: false, reason: 'expired' });
  t.match(
    await validateCertificate(pem, policy({ ...dev, at: new Date(now.getTime() - 5 * DAY) })),
    {
      ok: true,
    },
  );
  const justAfter = new Date(old.certificate.notAfter.getTime() + 30_000);
  t.match(await validateCertificate(pem, policy({ ...dev, at: justAfter })), { reason: 'expired' });
  t.match(await validateCertificate(pem, policy({ ...dev, at: justAfter, skewMs: 60_000 })), {
    ok: true,
  });

  const futureCsr = await participantCsr(clinic, 'future', 'device', 'pulse-2');
  const future = await ca.issue({
    csr: futureCsr,
    role: 'device',
    id: 'pulse-2',
    notBefore: new Date(now.getTime() + 2 * DAY),
    notAfter: new Date(now.getTime() + 30 * DAY),
  });
  const fpem = future.certificate.toString('pem');
  t.match(await validateCertificate(fpem, policy(dev)), { ok: false, reason: 'not-yet-valid' });
  const justBefore = new Date(future.certificate.notBefore.getTime() - 30_000);
  t.match(await validateCertificate(fpem, policy({ ...dev, at: justBefore })), {
    reason: 'not-yet-valid',
  });
  t.match(await validateCertificate(fpem, policy({ ...dev, at: justBefore, skewMs: 60_000 })), {
    ok: true,
  });
});

t.test('a leaf signed by another CA fails the chain', async (t) => {
  const fcsr = await participantCsr(clinic, 'gw', 'gateway', 'gw-1');
  const sameName = (await foreign.issue({ csr: fcsr, role: 'gateway', id: 'gw-1' })).certificate;
  t.equal(sameName.issuer, gw.issuer, 'same issuer name as a genuine one');
  const r1 = await validateCertificate(sameName.toString('pem'), policy());
  t.match(r1, { ok: false, reason: 'chain', detail: /signature/ });
  const otherName = (await other.issue({ csr: fcsr, role: 'gateway', id: 'gw-1' })).certificate;
  t.match(await validateCertificate(otherName.toString('pem'), policy()), {
    ok: false,
    reason: 'chain',
    detail: /issuer/,
  });
  t.match(
    await validateCertificate(gwPem, policy({ root: foreign.rootPem })),
    { ok: false, reason: 'chain' },
    'and a genuine leaf fails against a foreign root',
  );
  const sig = Buffer.from(gw.rawData);
  sig[sig.length - 3] = (sig[sig.length - 3] ?? 0) ^ 0x01;
  t.match(await validateCertificate(sig, policy()), { ok: false, reason: 'chain' });
});

t.test('revoked, and CRLs that cannot be trusted', async (t) => {
  const rcsr = await participantCsr(clinic, 'nt', 'notary', 'notary-1');
  const nt = (await ca.issue({ csr: rcsr, role: 'notary', id: 'notary-1' })).certificate;
  const nPolicy = (extra: Partial<ValidationPolicy>) => policy({ role: 'notary', ...extra });
  const before = await createCrl(ca);
  t.match(await validateCertificate(nt, nPolicy({ crl: before.toString('pem') })), { ok: true });
  await ca.revoke(nt.serialNumber, 'keyCompromise');
  const crl = await createCrl(ca, { days: 1 });
  t.match(await validateCertificate(nt, nPolicy({ crl: crl.toString('pem') })), {
    ok: false,
    reason: 'revoked',
    detail: /keyCompromise|reason 1/,
  });
  t.match(await validateCertificate(nt, nPolicy({ crl: new Uint8Array(crl.rawData) })), {
    reason: 'revoked',
  });
  t.match(await validateCertificate(gw, policy({ crl })), { ok: true }, 'others unaffected');
  t.match(await validateCertificate(nt, nPolicy({})), { ok: true }, 'no CRL, no revocation check');

  const foreignCrl = await createCrl(foreign);
  t.match(await validateCertificate(gw, policy({ crl: foreignCrl })), {
    ok: false,
    reason: 'crl-invalid',
  });
  t.match(await validateCertificate(gw, policy({ crl: await createCrl(other) })), {
    reason: 'crl-invalid',
    detail: /issued by/,
  });
  t.match(await validateCertificate(gw, policy({ crl, at: new Date(now.getTime() + 2 * DAY) })), {
    ok: false,
    reason: 'crl-invalid',
    detail: /stale/,
  });
  t.match(await validateCertificate(gw, policy({ crl: 'not a CRL' })), { reason: 'crl-invalid' });
  const bad = Buffer.from(crl.rawData);
  bad[bad.length - 2] = (bad[bad.length - 2] ?? 0) ^ 0x10;
  t.match(await validateCertificate(gw, policy({ crl: bad })), { reason: 'crl-invalid' });
});

/** A certificate signed by Trent's real root key but outside the profile. */
async function offProfile(opts: {
  role: 'gateway' | 'reader';
  usage: KeyUsageFlags;
  ca?: boolean;
  cn?: string;
  /** extendedKeyUsage OIDs; default what Trent gives the role (gateway: medchain signing). */
  eku?: string[];
}) {
  const eku = opts.eku ?? (opts.role === 'gateway' ? [MEDCHAIN_SIGNING_EKU] : []);
  const pub = await tokenCrypto.subtle.importKey(
    'spki',
    clinic.publicKey('gw').spki,
    { name: 'ECDSA', namedCurve: 'P-256' },
    true,
    ['verify'],
  );
  const cert = await X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: subjectName(opts.role, opts.cn ?? 'odd-1', 'medchain'),
      issuer: ca.root.subjectName,
      notBefore: new Date(now.getTime() - DAY),
      notAfter: new Date(now.getTime() + DAY),
      publicKey: pub,
      signingKey: tokenPrivateKey(trent, 'ca-root'),
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new BasicConstraintsExtension(opts.ca ?? false, undefined, true),
        new KeyUsagesExtension(opts.usage, true),
        new SubjectAlternativeNameExtension([{ type: 'url', value: roleUri(opts.role, 'odd-1') }]),
        ...(eku.length > 0 ? [new ExtendedKeyUsageExtension(eku)] : []),
      ],
    },
    tokenCrypto,
  );
  return cert.toString('pem');
}

t.test(
  'extendedKeyUsage: each purpose needs its own; a legacy signing certificate only judges the past',
  async (t) => {
    const p = (o: Partial<ValidationPolicy> = {}) => policy({ id: 'odd-1', ...o });
    const legacy = await offProfile({
      role: 'gateway',
      usage: KeyUsageFlags.digitalSignature,
      eku: [],
    });
    t.match(
      await validateCertificate(legacy, p()),
      { ok: false, reason: 'key-usage', detail: /renew it/ },
      'no live use of a certificate without extendedKeyUsage',
    );
    t.match(
      await validateCertificate(legacy, p({ historical: true })),
      { ok: true },
      'what it signed back then still verifies',
    );
    t.match(await validateCertificate(legacy, p({ purpose: 'tls' })), {
      ok: false,
      reason: 'key-usage',
    });
    const mixed = await offProfile({
      role: 'gateway',
      usage: KeyUsageFlags.digitalSignature,
      eku: [MEDCHAIN_SIGNING_EKU, ...TLS_EKUS],
    });
    for (const purpose of ['signing', 'tls'] as const) {
      for (const historical of [false, true]) {
        t.match(
          await validateCertificate(mixed, p({ purpose, historical })),
          { ok: false, reason: 'key-usage' },
          `mixed refused (${purpose}, historical ${historical})`,
        );
      }
    }
    const tls = await offProfile({
      role: 'gateway',
      usage: KeyUsageFlags.digitalSignature,
      eku: TLS_EKUS,
    });
    t.match(
      await validateCertificate(tls, p({ historical: true })),
      { ok: false, reason: 'key-usage' },
      'a TLS certificate never signs blocks, not even in the past',
    );
    const signing = await offProfile({ role: 'gateway', usage: KeyUsageFlags.digitalSignature });
    t.match(await validateCertificate(signing, p({ purpose: 'tls' })), {
      ok: false,
      reason: 'key-usage',
    });
    t.match(await validateCertificate(signing, p()), { ok: true });
    const foreignEku = await offProfile({
      role: 'gateway',
      usage: KeyUsageFlags.digitalSignature,
      eku: ['1.3.6.1.5.5.7.3.4'],
    });
    t.match(
      await validateCertificate(foreignEku, p()),
      { ok: false, reason: 'key-usage' },
      'emailProtection is not medchain signing',
    );
  },
);

t.test('historical checks: a signature made before a revocation stays good', async (t) => {
  const hcsr = await participantCsr(clinic, 'gw-h', 'gateway', 'gw-h');
  const cert = (await ca.issue({ csr: hcsr, role: 'gateway', id: 'gw-h', days: 30 })).certificate;
  const revokedAt = new Date(now.getTime() + 2 * 3_600_000);
  await ca.revoke(cert.serialNumber, 'superseded', revokedAt);
  // Issued later than every date below: live checks would call it "dated in the future".
  const crl = await createCrl(ca, { thisUpdate: new Date(now.getTime() + 3 * 3_600_000), days: 1 });
  const hp = (at: Date) => policy({ id: 'gw-h', crl, at, historical: true });
  t.match(await validateCertificate(cert, hp(new Date(now.getTime() + 3_600_000))), { ok: true });
  t.match(await validateCertificate(cert, hp(new Date(now.getTime() + 5 * 3_600_000))), {
    ok: false,
    reason: 'revoked',
  });
  t.match(
    await validateCertificate(
      cert,
      policy({ id: 'gw-h', crl, at: new Date(now.getTime() + 3_600_000) }),
    ),
    { ok: false, reason: 'crl-invalid' },
    'the same CRL is refused for a live check at that time',
  );
  t.match(
    await validateCertificate(cert, hp(new Date(now.getTime() + 40 * DAY))),
    {
      ok: false,
      reason: 'expired',
    },
    'historical checks still require the certificate valid at the time of use',
  );
  const forged = Buffer.from(crl.rawData);
  forged[forged.length - 2] = (forged[forged.length - 2] ?? 0) ^ 0x10;
  const beforeRevocation = new Date(now.getTime() + 3_600_000);
  t.match(
    await validateCertificate(cert, { ...hp(beforeRevocation), crl: forged }),
    {
      reason: 'crl-invalid',
    },
    'a historical check still requires the CRL to be signed by the root',
  );
});

t.test('key usage and identity must follow the profile', async (t) => {
  const ka = await offProfile({ role: 'gateway', usage: KeyUsageFlags.keyAgreement });
  t.match(await validateCertificate(ka, policy()), { ok: false, reason: 'key-usage' });
  const signingReader = await offProfile({ role: 'reader', usage: keyUsageFor('gateway') });
  t.match(await validateCertificate(signingReader, policy({ role: 'reader' })), {
    reason: 'key-usage',
  });
  const subCa = await offProfile({
    role: 'gateway',
    usage: KeyUsageFlags.digitalSignature | KeyUsageFlags.keyCertSign,
    ca: true,
  });
  t.match(await validateCertificate(subCa, policy()), { reason: 'key-usage' });
  const mismatch = await offProfile({
    role: 'gateway',
    usage: KeyUsageFlags.digitalSignature,
    cn: 'gw-9',
  });
  t.match(await validateCertificate(mismatch, policy()), {
    reason: 'malformed',
    detail: /disagrees/,
  });
  const fine = await offProfile({ role: 'gateway', usage: KeyUsageFlags.digitalSignature });
  t.match(await validateCertificate(fine, policy()), { ok: true }, 'the control case passes');
});

t.test('hostile input never throws', async (t) => {
  const inputs: (string | Uint8Array)[] = [
    '',
    'garbage',
    '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
    new Uint8Array(0),
    randomBytes(300),
    Buffer.alloc(70_000, 0x30),
    'x'.repeat(100_000),
  ];
  for (const input of inputs) {
    const r = await validateCertificate(input, policy());
    t.match(r, { ok: false, reason: 'malformed' });
  }
  t.match(await validateCertificate(gwPem, policy({ root: 'not a root' })), { reason: 'chain' });
  const der = Buffer.from(gw.rawData);
  const reasons = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const m = Buffer.from(der);
    const at = i % der.length;
    m[at] = (m[at] ?? 0) ^ (1 << (i % 8));
    const r = await validateCertificate(m, policy());
    if (!r.ok) reasons.add(r.reason);
  }
  t.ok(
    [...reasons].every((r) =>
      ['chain', 'malformed', 'key-usage', 'wrong-role', 'wrong-id'].includes(r),
    ),
  );
  t.ok(reasons.has('chain') && reasons.has('malformed'), `mutations rejected: ${[...reasons]}`);
});
