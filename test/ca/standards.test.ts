/**
 * Trent's certificates and CRLs as the standard tools of the field see them: the
 * `openssl` binary itself (verify -x509_strict -crl_check, -purpose, -verify_ip,
 * -verify_hostname), and the CRL fetched over HTTP from the Distribution Point the
 * certificates name (`ca serve`).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { CertificateAuthority } from '../../ca/authority.js';
import { createCrl, crlNumberOf, writeCrl } from '../../ca/crl.js';
import { startCrlServer } from '../../ca/crl-server.js';
import { CaCode } from '../../ca/errors.js';
import { MEDCHAIN_SIGNING_EKU } from '../../ca/profile.js';
import { validateCertificate } from '../../ca/validate.js';
import { SubjectAlternativeNameExtension, X509Certificate } from '../../ca/x509.js';
import { initCa, openssl, participantCsr, tempDir, tokens } from '../helpers/ca.js';

const tok = tokens(t, ['trent', 'clinic']);
const clinic = tok.clinic!;
const dir = tempDir(t);
const crlFile = join(dir, 'served.crl');
// The Distribution Point answers before the CA exists: its URL goes into every certificate.
const server = await startCrlServer({ crlPath: crlFile, host: '127.0.0.1', port: 0 });
t.teardown(() => server.close());
const ca: CertificateAuthority = await initCa(tok.trent!, join(dir, 'ca.db'), {
  crlUrl: server.url,
});
t.teardown(() => ca.close());
writeFileSync(join(dir, 'root.pem'), ca.rootPem);

async function issue(
  file: string,
  id: string,
  opts: { purpose?: 'tls'; dns?: string[]; ip?: string[] } = {},
): Promise<string> {
  const csr = await participantCsr(clinic, `${id}-${opts.purpose ?? 'sign'}`, 'notary', id);
  const { certificate } = await ca.issue({
    role: 'notary',
    id,
    csr,
    purpose: opts.purpose,
    hosts: { dns: opts.dns, ip: opts.ip },
  });
  writeFileSync(join(dir, file), certificate.toString('pem'));
  return certificate.serialNumber;
}

await issue('sign.pem', 'nt-1');
await issue('tls.pem', 'nt-1', {
  purpose: 'tls',
  dns: ['localhost', 'Notary.Example'],
  ip: ['127.0.0.1', '::1'],
});
const goneSerial = await issue('gone.pem', 'nt-2');
await ca.revoke(goneSerial, 'keyCompromise');

const verify = (...args: string[]) =>
  openssl(['verify', '-x509_strict', '-CAfile', 'root.pem', ...args], dir);

t.test('every CRL carries a monotonic CRL Number and the authority key id', async (t) => {
  const numbers: number[] = [];
  for (let i = 0; i < 3; i++) {
    const crl = await createCrl(ca);
    numbers.push(crlNumberOf(crl) ?? -1);
    await writeCrl(join(dir, `crl-${i}.pem`), crl);
  }
  t.same(numbers, [1, 2, 3], 'one above the last, recorded by Trent');
  const text = openssl(['crl', '-in', 'crl-2.pem', '-noout', '-text'], dir).out;
  t.match(text, /X509v3 CRL Number:\s*\n\s*3\b/);
  t.match(text, /X509v3 Authority Key Identifier:/);
  const rootText = openssl(['x509', '-in', 'root.pem', '-noout', '-text'], dir).out;
  const ski = /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(rootText)?.[1];
  t.ok(ski, 'the root has a subject key id');
  t.ok(text.includes(ski ?? 'none'), 'the CRL names the root key by that id');
  const check = openssl(['crl', '-CAfile', 'root.pem', '-in', 'crl-2.pem', '-noout'], dir);
  t.match(check.out, /verify OK/);
});

t.test(
  'the CRL fetched from the Distribution Point passes openssl -crl_check -x509_strict',
  async (t) => {
    await writeCrl(crlFile, await createCrl(ca), 'der');
    for (const file of ['sign.pem', 'tls.pem', 'gone.pem']) {
      const text = openssl(['x509', '-in', file, '-noout', '-text'], dir).out;
      t.match(
        text,
        new RegExp(`CRL Distribution Points:\\s*\\n\\s*Full Name:\\s*\\n\\s*URI:${server.url}`),
        file,
      );
    }
    const url = /URI:(http:\/\/\S+)/.exec(
      openssl(['x509', '-in', 'sign.pem', '-noout', '-ext', 'crlDistributionPoints'], dir).out,
    )?.[1];
    t.equal(url, server.url);
    const res = await fetch(url ?? '');
    t.equal(res.status, 200);
    t.equal(res.headers.get('content-type'), 'application/pkix-crl');
    writeFileSync(join(dir, 'fetched.der'), Buffer.from(await res.arrayBuffer()));
    const pem = openssl(
      ['crl', '-inform', 'DER', '-in', 'fetched.der', '-out', 'fetched.pem'],
      dir,
    );
    t.equal(pem.status, 0, pem.out);

    for (const file of ['sign.pem', 'tls.pem']) {
      const ok = verify('-crl_check', '-CRLfile', 'fetched.pem', file);
      t.equal(ok.status, 0, ok.out);
    }
    const revoked = verify('-crl_check', '-CRLfile', 'fetched.pem', 'gone.pem');
    t.not(revoked.status, 0);
    t.match(revoked.out, /certificate revoked/);
    t.equal(verify('-x509_strict', 'root.pem').status, 0, 'the root itself passes -x509_strict');

    t.equal((await fetch(`${server.url}/other`)).status, 404);
    t.equal((await fetch(server.url, { method: 'POST' })).status, 405);
    writeFileSync(crlFile, 'not a CRL');
    t.equal((await fetch(server.url)).status, 503, 'a broken CRL file is not served');
  },
);

t.test('TLS refuses a signing certificate; medchain refuses a TLS one for signing', async (t) => {
  const text = openssl(['x509', '-in', 'sign.pem', '-noout', '-text'], dir).out;
  t.match(
    text,
    new RegExp(`Extended Key Usage:\\s*\\n\\s*${MEDCHAIN_SIGNING_EKU.replace(/\./g, '\\.')}`),
    'the medchain OID, in decimal',
  );
  for (const purpose of ['sslserver', 'sslclient']) {
    const r = verify('-purpose', purpose, 'sign.pem');
    t.not(r.status, 0, `${purpose} refused`);
    t.match(r.out, /unsuitable certificate purpose/);
    t.equal(
      verify('-purpose', purpose, 'tls.pem').status,
      0,
      `the TLS certificate passes ${purpose}`,
    );
  }
  const policy = { root: ca.rootPem, role: 'notary' as const, at: new Date(), skewMs: 0 };
  const signPem = openssl(['x509', '-in', 'sign.pem'], dir).out;
  const tlsPem = openssl(['x509', '-in', 'tls.pem'], dir).out;
  t.match(await validateCertificate(signPem, policy), { ok: true });
  t.match(await validateCertificate(tlsPem, policy), { ok: false, reason: 'key-usage' });
  t.match(await validateCertificate(signPem, { ...policy, purpose: 'tls' }), {
    ok: false,
    reason: 'key-usage',
  });
  t.match(
    await validateCertificate(tlsPem, { ...policy, purpose: 'tls' }),
    { ok: true },
    'host names beside the identity URI',
  );
});

t.test('TLS certificates name their hosts: -verify_ip and -verify_hostname', async (t) => {
  for (const ip of ['127.0.0.1', '::1']) t.equal(verify('-verify_ip', ip, 'tls.pem').status, 0, ip);
  for (const host of ['localhost', 'notary.example'])
    t.equal(verify('-verify_hostname', host, 'tls.pem').status, 0, host);
  const wrongIp = verify('-verify_ip', '10.0.0.1', 'tls.pem');
  t.not(wrongIp.status, 0);
  t.match(wrongIp.out, /IP address mismatch/);
  const wrongHost = verify('-verify_hostname', 'evil.example', 'tls.pem');
  t.not(wrongHost.status, 0);
  t.match(wrongHost.out, /hostname mismatch/);
  t.not(
    verify('-verify_ip', '127.0.0.1', 'sign.pem').status,
    0,
    'a signing certificate names no host',
  );
});

t.test('bad host names, addresses and CRL URLs are refused with CA_BAD_INPUT', async (t) => {
  const csr = () => participantCsr(clinic, 'bad', 'notary', 'nt-bad');
  const bad: { dns?: string[]; ip?: string[]; purpose?: 'tls' }[] = [
    { dns: ['*.example'], purpose: 'tls' },
    { dns: ['-x.example'], purpose: 'tls' },
    { dns: ['a..b'], purpose: 'tls' },
    { ip: ['300.1.1.1'], purpose: 'tls' },
    { ip: ['localhost'], purpose: 'tls' },
    { dns: ['a.example', 'A.example'], purpose: 'tls' },
    { dns: ['localhost'] },
    { ip: ['127.0.0.1'] },
    { dns: Array.from({ length: 17 }, (_, i) => `h${i}.example`), purpose: 'tls' },
  ];
  for (const b of bad) {
    await t.rejects(
      ca.issue({ role: 'notary', id: 'nt-bad', csr: await csr(), purpose: b.purpose, hosts: b }),
      { code: CaCode.BadInput },
      JSON.stringify(b).slice(0, 60),
    );
  }
  for (const url of [
    'https://ca.example/crl',
    'ftp://ca.example/crl',
    'not a url',
    'http://u:p@ca.example/crl',
  ]) {
    await t.rejects(ca.setCrlUrl(url), { code: CaCode.BadInput }, url);
  }
  t.equal(ca.meta.crlUrl, server.url, 'a refused URL leaves the configured one');
});

t.test(
  'renew keeps key, purpose and host names; revoked and root certificates are not renewed',
  async (t) => {
    const tlsRec = (await ca.list())
      .filter((c) => c.id === 'nt-1')
      .find((c) =>
        new X509Certificate(c.pem)
          .getExtension(SubjectAlternativeNameExtension)
          ?.names.items.some((n) => n.type === 'dns'),
      );
    t.ok(tlsRec, 'the TLS certificate of nt-1');
    if (!tlsRec) return;
    const renewed = await ca.renew(tlsRec.serial, { days: 30 });
    writeFileSync(join(dir, 'renewed-tls.pem'), renewed.certificate.toString('pem'));
    t.same(
      Buffer.from(renewed.certificate.publicKey.rawData),
      Buffer.from(new X509Certificate(tlsRec.pem).publicKey.rawData),
    );
    const v = verify(
      '-purpose',
      'sslserver',
      '-verify_ip',
      '127.0.0.1',
      '-verify_hostname',
      'notary.example',
      'renewed-tls.pem',
    );
    t.equal(v.status, 0, v.out);
    await t.rejects(ca.renew(goneSerial), { code: CaCode.BadInput }, 'a revoked certificate');
    await t.rejects(ca.renew(ca.meta.rootSerial), { code: CaCode.BadInput }, 'the root');
    await t.rejects(
      ca.issue({
        role: 'notary',
        id: 'nt-1',
        purpose: 'tls',
        csr: await participantCsr(clinic, 'nt-1-other', 'notary', 'nt-1'),
      }),
      { code: CaCode.DuplicateId },
      'a new key is still a duplicate while the old ones are unrevoked',
    );
  },
);
