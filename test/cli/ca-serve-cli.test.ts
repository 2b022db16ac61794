import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { createSoftHsmSandbox } from '../../hsm/softhsm.js';

// The CRL Distribution Point from the CLI, as an operator runs it from a shell: the built bin, fresh SoftHSM tokens,
// PINs from the environment, OpenSSL as the outside judge of every artefact.
const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
if (!existsSync(BIN)) throw new Error(`${BIN} missing: run 'npm run build' first (npm test does)`);

const sandbox = createSoftHsmSandbox();
t.teardown(() => sandbox.cleanup());
const cwd = sandbox.dir;
const env = {
  ...process.env,
  ...sandbox.env,
  MEDCHAIN_HSM_SO_PIN: '11223344',
  MEDCHAIN_HSM_PIN: '55667788',
  MEDCHAIN_LOG_LEVEL: 'silent',
};

function medchain(...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { env, cwd, encoding: 'utf8' });
}
function ok(t: Test, ...args: string[]): string {
  const r = medchain(...args);
  t.equal(r.status, 0, `medchain ${args.slice(0, 2).join(' ')}: ${r.stderr}`);
  return r.stdout;
}
function openssl(...args: string[]) {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

t.test(
  'ca crl-url, ca issue --dns/--ip, ca crl numbers, ca serve: the CRL where certificates say',
  async (t) => {
    const dir = join(cwd, 'cdp');
    mkdirSync(dir);
    ok(t, 'hsm', 'init', '--token', 'cdp-ca');
    ok(t, 'ca', 'init', '--token', 'cdp-ca', '--db', 'cdp/ca.db', '--out', 'cdp/root.pem');
    const first = ok(
      t,
      'ca',
      'crl',
      '--token',
      'cdp-ca',
      '--db',
      'cdp/ca.db',
      '--out',
      'cdp/crl.der',
      '--format',
      'der',
    );
    t.match(first, /CRL number 1 /);
    t.match(
      ok(
        t,
        'ca',
        'crl',
        '--token',
        'cdp-ca',
        '--db',
        'cdp/ca.db',
        '--out',
        'cdp/crl.der',
        '--format',
        'der',
      ),
      /CRL number 2 /,
    );

    const serve = spawn(
      process.execPath,
      [BIN, 'ca', 'serve', '--crl', 'cdp/crl.der', '--root', 'cdp/root.pem', '--port', '0'],
      { env, cwd },
    );
    t.teardown(() => serve.kill('SIGKILL'));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      serve.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /serving the CRL on (\S+)/.exec(out);
        if (m?.[1]) resolve(m[1]);
      });
      serve.once('exit', (code) => reject(new Error(`ca serve exited ${code}`)));
    });
    ok(t, 'ca', 'crl-url', '--db', 'cdp/ca.db', '--url', url);

    t.equal(
      openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'cdp/tls.key').status,
      0,
    );
    const req = openssl(
      'req',
      '-new',
      '-key',
      'cdp/tls.key',
      '-subj',
      '/O=medchain/OU=notary/CN=nt-1',
      '-out',
      'cdp/tls.csr',
    );
    t.equal(req.status, 0, req.out);
    const issueTls = (...extra: string[]) =>
      medchain(
        'ca',
        'issue',
        '--db',
        'cdp/ca.db',
        '--token',
        'cdp-ca',
        '--csr',
        'cdp/tls.csr',
        '--role',
        'notary',
        '--id',
        'nt-1',
        '--purpose',
        'tls',
        '--out',
        'cdp/tls.pem',
        ...extra,
      );
    const badIp = issueTls('--ip', 'localhost');
    t.equal(badIp.status, 2);
    t.match(badIp.stderr, /CA_BAD_INPUT/);
    const signingWithHost = medchain(
      'ca',
      'issue',
      '--db',
      'cdp/ca.db',
      '--token',
      'cdp-ca',
      '--csr',
      'cdp/tls.csr',
      '--role',
      'notary',
      '--id',
      'nt-1',
      '--dns',
      'localhost',
      '--out',
      'cdp/x.pem',
    );
    t.equal(signingWithHost.status, 2, 'a signing certificate names no host');
    t.match(signingWithHost.stderr, /CA_BAD_INPUT/);
    t.notOk(existsSync(join(dir, 'x.pem')));
    const good = issueTls('--dns', 'localhost', '--ip', '127.0.0.1', '--ip', '::1');
    t.equal(good.status, 0, good.stderr);

    const res = await fetch(url);
    t.equal(res.status, 200);
    writeFileSync(join(dir, 'fetched.der'), Buffer.from(await res.arrayBuffer()));
    t.same(
      readFileSync(join(dir, 'fetched.der')),
      readFileSync(join(dir, 'crl.der')),
      'ca serve answers the file ca crl wrote',
    );
    t.equal(
      openssl('crl', '-inform', 'DER', '-in', 'cdp/fetched.der', '-out', 'cdp/fetched.pem').status,
      0,
    );
    const text = openssl(
      'x509',
      '-in',
      'cdp/tls.pem',
      '-noout',
      '-ext',
      'crlDistributionPoints,subjectAltName',
    ).out;
    t.ok(text.includes(`URI:${url}`), 'the certificate names the Distribution Point');
    t.match(text, /DNS:localhost/);
    t.match(text, /IP Address:127\.0\.0\.1/);
    const v = openssl(
      'verify',
      '-x509_strict',
      '-crl_check',
      '-CAfile',
      'cdp/root.pem',
      '-CRLfile',
      'cdp/fetched.pem',
      '-purpose',
      'sslserver',
      '-verify_ip',
      '127.0.0.1',
      'cdp/tls.pem',
    );
    t.equal(v.status, 0, v.out);
    t.equal(
      await fetch(url.replace(/\/crl$/, '/root.pem')).then((r) => r.text()),
      readFileSync(join(dir, 'root.pem'), 'utf8'),
    );

    const missing = medchain('ca', 'serve', '--crl', 'cdp/none.der', '--port', '0');
    t.equal(missing.status, 2);
    t.match(missing.stderr, /CA_BAD_INPUT/);
    const badUrl = medchain('ca', 'crl-url', '--db', 'cdp/ca.db', '--url', 'https://x.example/crl');
    t.equal(badUrl.status, 2);
    t.match(badUrl.stderr, /CA_BAD_INPUT/);
  },
);
