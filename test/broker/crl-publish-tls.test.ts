import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { publishCrl } from '../../ca/publish.js';
import * as x509 from '../../ca/x509.js';
import { CA_TOKEN, createTestPki } from '../helpers/pki.js';
import { USER_PIN } from '../helpers/softhsm.js';
import { MAIN } from './cli-helpers.js';
import { connectAs, startNotary } from './helpers.js';

// Trent publishes its CRL straight to a notary, whose broker admits only clients with a
// Trent TLS certificate (here role reader, id trent-pub) and a client id it names.
const pki = await createTestPki(t);
const me = await pki.participant('notary', 'notary-1');
const gw1 = await pki.participant('gateway', 'gw-1');
const gw2 = await pki.participant('gateway', 'gw-2');
const pub = await pki.participant('reader', 'trent-pub');
const notary = await startNotary(t, pki, me, [gw1, gw2]);
const url = `mqtts://127.0.0.1:${notary.broker.port}`;
const tls = { key: pub.tls.keyPem, cert: pub.tls.pem, ca: pki.rootPem, notaryId: 'notary-1' };

/** Resolves when the connection closes; rejects after a bounded wait. */
const closed = (c: { once(e: 'close', f: () => void): unknown }) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('still connected after 60 s')), 60_000);
    c.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });

t.test('with a client certificate the CRL reaches the notary and revokes', async (t) => {
  const gw = await connectAs(t, pki, gw1, notary.broker.port);
  const gone = closed(gw);
  await pki.revoke(gw1.tls.serial);
  await publishCrl(url, await pki.writeCrl(), { tls });
  await gone;
  t.pass('the revoked gateway is disconnected');
  await t.rejects(connectAs(t, pki, gw1, notary.broker.port, 'gw-1-b'), /Not authorized/i);
});

t.test('refusals: no client certificate, another notary, a foreign client id', async (t) => {
  const crl = await pki.writeCrl();
  await t.rejects(publishCrl(url, crl, { timeoutMs: 5000 }), { code: 'CA_PUBLISH_FAILED' });
  await t.rejects(publishCrl(url, crl, { tls: { ...tls, notaryId: 'notary-9' } }), {
    code: 'CA_PUBLISH_FAILED',
    message: /not notary 'notary-9'/,
  });
  await t.rejects(publishCrl(url, crl, { tls, clientId: 'gw-2' }), {
    code: 'CA_PUBLISH_FAILED',
    message: /Identifier rejected|Not authorized/i,
  });
  await t.rejects(publishCrl(url, crl, { tls: { ...tls, cert: 'not a certificate' } }), {
    code: 'CA_BAD_INPUT',
  });
  // A certificate that names no medchain participant (no URI SAN): no client id to derive.
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ]);
  const plain = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=someone',
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  });
  await t.rejects(publishCrl(url, crl, { tls: { ...tls, cert: plain.toString('pem') } }), {
    code: 'CA_BAD_INPUT',
    message: /names no medchain participant/,
  });
});

/** `medchain …` without blocking this process, which runs the notary. */
function medchain(args: string[]): Promise<{ status: number | null; out: string }> {
  const child = spawn(process.execPath, [...process.execArgv, MAIN, ...args], {
    env: { ...process.env, MEDCHAIN_HSM_PIN: USER_PIN, MEDCHAIN_LOG_LEVEL: 'silent' },
    cwd: pki.dir,
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('close', (status) => resolve({ status, out })));
}

t.test('medchain ca crl --publish mqtts:// with --tls-key, --tls-cert, --notary', async (t) => {
  const base = ['ca', 'crl', '--db', 'ca.db', '--token', CA_TOKEN, '--out', 'cli-crl.pem'];
  const gw = await connectAs(t, pki, gw2, notary.broker.port);
  const gone = closed(gw);
  await pki.revoke(gw2.tls.serial);
  const tlsFlags = ['--tls-key', pub.tls.keyPath, '--tls-cert', pub.tls.path];
  const r = await medchain([...base, '--publish', url, ...tlsFlags, '--notary', 'notary-1']);
  t.equal(r.status, 0, r.out);
  t.match(r.out, /CRL published retained/);
  await gone;
  t.pass('the CRL the CLI signed and published disconnected gw-2');
  t.match(readFileSync(`${pki.dir}/cli-crl.pem`, 'utf8'), /BEGIN X509 CRL/);

  for (const [args, why] of [
    [['--publish', url, '--tls-key', pub.tls.keyPath], /--tls-key and --tls-cert go together/],
    [['--notary', 'notary-1'], /need --publish/],
    [['--publish', url, '--notary', 'notary-1'], /need --tls-key and --tls-cert/],
    [['--publish', url, ...tlsFlags, '--notary', 'notary-9'], /not notary 'notary-9'/],
  ] as const) {
    const bad = await medchain([...base, ...args]);
    t.equal(bad.status, 2, args.join(' '));
    t.match(bad.out, why);
  }
});
