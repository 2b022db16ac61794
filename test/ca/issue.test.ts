import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { CertificateAuthority } from '../../ca/authority.js';
import { createCsr, parseCsr } from '../../ca/csr.js';
import { CaCode } from '../../ca/errors.js';
import { validateCertificate } from '../../ca/validate.js';
import { initCa, openssl, participantCsr, tempDir, tokens } from './helpers.js';

const tok = tokens(t, ['trent', 'clinic', 'ward']);
const trent = tok.trent!;
const clinic = tok.clinic!;
const ward = tok.ward!;
const dir = tempDir(t);
const ca = await initCa(trent, join(dir, 'ca.db'), { name: 'medchain Trent' });
t.teardown(() => ca.close());
writeFileSync(join(dir, 'root.pem'), ca.rootPem);

async function counts() {
  const all = await ca.list();
  return { certs: all.length, revoked: (await ca.revocations()).length };
}

t.test('the root is a CA certificate OpenSSL accepts as a trust anchor', async (t) => {
  const text = openssl(['x509', '-in', 'root.pem', '-noout', '-text'], dir).out;
  t.match(text, /Subject: O = medchain, OU = ca, CN = medchain Trent/);
  t.match(text, /CA:TRUE, pathlen:0/);
  t.match(text, /Certificate Sign, CRL Sign/);
  t.match(text, /URI:urn:medchain:ca:trent/);
  t.match(text, /ecdsa-with-SHA256/);
  const self = openssl(['verify', '-CAfile', 'root.pem', 'root.pem'], dir);
  t.equal(self.status, 0, self.out);
  const v = await validateCertificate(ca.rootPem, {
    root: ca.rootPem,
    role: 'ca',
    at: new Date(),
    skewMs: 0,
  });
  t.match(v, { ok: true, role: 'ca', id: 'trent' });
});

t.test('an issued gateway certificate verifies with openssl and shows role and id', async (t) => {
  const csr = await participantCsr(clinic, 'gw-key', 'gateway', 'gw-1');
  writeFileSync(join(dir, 'gw.csr'), csr);
  const req = openssl(['req', '-in', 'gw.csr', '-noout', '-verify', '-subject'], dir);
  t.equal(req.status, 0, 'openssl verifies the token-signed CSR');
  t.match(req.out, /OU = gateway, CN = gw-1/);

  const { record, certificate } = await ca.issue({ csr, role: 'gateway', id: 'gw-1', days: 30 });
  t.match(record.serial, /^[0-7][0-9a-f]{31}$/, '16-byte positive serial');
  writeFileSync(join(dir, 'gw.pem'), certificate.toString('pem'));
  const verify = openssl(['verify', '-CAfile', 'root.pem', 'gw.pem'], dir);
  t.equal(verify.status, 0, verify.out);
  t.match(verify.out, /gw.pem: OK/);
  const text = openssl(['x509', '-in', 'gw.pem', '-noout', '-text'], dir).out;
  t.match(text, /Subject: O = medchain, OU = gateway, CN = gw-1/);
  t.match(text, /URI:urn:medchain:gateway:gw-1/);
  t.match(text, /X509v3 Key Usage: critical\s+Digital Signature\n/);
  t.match(text, /CA:FALSE/);
  t.match(text, /Authority Key Identifier/);

  const v = await validateCertificate(certificate.toString('pem'), {
    root: ca.rootPem,
    role: 'gateway',
    id: 'gw-1',
    at: new Date(),
    skewMs: 0,
  });
  t.match(v, { ok: true, role: 'gateway', id: 'gw-1', serial: record.serial });
  if (v.ok) {
    t.same(
      v.publicKey.point,
      clinic.publicKey('gw-key').point,
      'the certified key is the token key',
    );
  }
});

t.test(
  'a reader key (ECDH, cannot sign) is certified for keyAgreement from its public key',
  async (t) => {
    const info = ward.generateKey('reader-key', 'derive');
    const { certificate } = await ca.issue({
      role: 'reader',
      id: 'dr-house',
      readerSpki: info.publicKey.spki,
    });
    writeFileSync(join(dir, 'reader.pem'), certificate.toString('pem'));
    t.equal(openssl(['verify', '-CAfile', 'root.pem', 'reader.pem'], dir).status, 0);
    const text = openssl(['x509', '-in', 'reader.pem', '-noout', '-text'], dir).out;
    t.match(text, /Key Usage: critical\s+Key Agreement\n/);
    t.match(text, /URI:urn:medchain:reader:dr-house/);
    const v = await validateCertificate(new Uint8Array(certificate.rawData), {
      root: ca.rootPem,
      role: 'reader',
      at: new Date(),
      skewMs: 0,
    });
    t.match(v, { ok: true, role: 'reader', id: 'dr-house' });
    await t.rejects(
      ca.issue({ role: 'gateway', id: 'gw-x', readerSpki: info.publicKey.spki }),
      { code: CaCode.ProofOfPossession },
      'only readers may skip the CSR',
    );
  },
);

t.test('bad input: a typed error each, nothing written to the CA database', async (t) => {
  const before = await counts();
  const good = await participantCsr(clinic, 'nt-key', 'notary', 'notary-a');

  await t.rejects(ca.issue({ csr: 'hello, I am a CSR', role: 'notary', id: 'notary-a' }), {
    code: CaCode.CsrMalformed,
  });
  await t.rejects(
    ca.issue({
      csr: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]),
      role: 'notary',
      id: 'notary-a',
    }),
    { code: CaCode.CsrMalformed },
  );
  const der = Buffer.from(good.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  await t.rejects(
    ca.issue({ csr: der.subarray(0, der.length - 9), role: 'notary', id: 'notary-a' }),
    {
      code: CaCode.CsrMalformed,
    },
  );
  t.match(await parseCsr(der), { role: 'notary', id: 'notary-a' }, 'the whole DER parses');

  // The CSR names key nt-key but is signed on the token by another key.
  clinic.generateKey('thief');
  const forged = await createCsr({
    signer: clinic,
    keyLabel: 'thief',
    spki: clinic.publicKey('nt-key').spki,
    role: 'notary',
    id: 'notary-a',
  });
  await t.rejects(ca.issue({ csr: forged, role: 'notary', id: 'notary-a' }), {
    code: CaCode.CsrSignature,
  });

  await t.rejects(ca.issue({ csr: good, role: 'janitor', id: 'notary-a' }), {
    code: CaCode.RoleUnknown,
  });
  await t.rejects(
    ca.issue({ csr: good, role: 'ca', id: 'notary-a' }),
    {
      code: CaCode.RoleUnknown,
    },
    'nobody is issued a second CA',
  );
  await t.rejects(ca.issue({ csr: good, role: 'gateway', id: 'notary-a' }), {
    code: CaCode.CsrMismatch,
  });
  await t.rejects(ca.issue({ csr: good, role: 'notary', id: 'notary-b' }), {
    code: CaCode.CsrMismatch,
  });
  await t.rejects(ca.issue({ csr: good, role: 'notary', id: 'bad id!' }), {
    code: CaCode.IdInvalid,
  });
  await t.rejects(ca.issue({ csr: good, role: 'notary', id: 'notary-a', days: 0 }), {
    code: CaCode.Validity,
  });
  await t.rejects(
    ca.issue({ csr: good, role: 'notary', id: 'notary-a', days: 30_000 }),
    {
      code: CaCode.Validity,
    },
    'a leaf may not outlive the root',
  );
  t.same(await counts(), before, 'nothing written');

  await ca.issue({ csr: good, role: 'notary', id: 'notary-a' });
  const afterOne = await counts();
  const again = await participantCsr(clinic, 'nt-key2', 'notary', 'notary-a');
  await t.rejects(ca.issue({ csr: again, role: 'notary', id: 'notary-a' }), {
    code: CaCode.DuplicateId,
  });
  t.same(await counts(), afterOne, 'the duplicate wrote nothing');

  await t.rejects(ca.revoke('7f00000000000000000000000000abcd', 'keyCompromise'), {
    code: CaCode.SerialUnknown,
  });
  await t.rejects(ca.revoke('not-hex', 'keyCompromise'), { code: CaCode.SerialUnknown });
  const [first] = (await ca.list()).filter((c) => c.id === 'notary-a');
  await t.rejects(ca.revoke(first!.serial, 'because'), { code: CaCode.ReasonUnknown });
  await t.rejects(ca.revoke(ca.meta.rootSerial, 'keyCompromise'), { code: CaCode.BadInput });
  t.same(await counts(), afterOne, 'refused revocations wrote nothing');

  const rev = await ca.revoke(first!.serial.toUpperCase(), 'superseded');
  t.equal(rev.serial, first!.serial, 'serials are matched case-insensitively');
  await t.rejects(ca.revoke(first!.serial, 'keyCompromise'), { code: CaCode.AlreadyRevoked });
  t.same(await counts(), { certs: afterOne.certs, revoked: afterOne.revoked + 1 });
  const renewed = await ca.issue({ csr: again, role: 'notary', id: 'notary-a' });
  t.ok(renewed.record.serial, 'after revocation the id can be issued again');
});

t.test('a token that does not hold the root key cannot sign for this CA', async (t) => {
  const wrong = await CertificateAuthority.open({ dbPath: join(dir, 'ca.db'), signer: clinic });
  t.teardown(() => wrong.close());
  clinic.generateKey('ca-root');
  const before = (await wrong.list()).length;
  const csr = await participantCsr(ward, 'dev-key', 'device', 'pulse-7');
  await t.rejects(wrong.issue({ csr, role: 'device', id: 'pulse-7' }), {
    code: CaCode.KeyMismatch,
  });
  t.equal((await wrong.list()).length, before);
});

t.test('init refuses an initialised database; open refuses a missing one', async (t) => {
  await t.rejects(initCa(trent, join(dir, 'ca.db'), { keyLabel: 'ca-root-2' }), {
    code: CaCode.AlreadyInitialised,
  });
  await t.rejects(CertificateAuthority.open({ dbPath: join(dir, 'absent.db') }), {
    code: CaCode.NotInitialised,
  });
});
