import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { createSoftHsmSandbox } from '../../hsm/softhsm.js';

// The CLI as an operator runs it from a shell: the built bin, fresh SoftHSM tokens,
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

t.test('ca init, hsm keygen, hsm csr, ca issue, ca revoke, ca crl: openssl agrees', async (t) => {
  ok(t, 'hsm', 'init', '--token', 'trent');
  ok(t, 'hsm', 'init', '--token', 'clinic');
  ok(t, 'hsm', 'init', '--token', 'ward');
  ok(t, 'ca', 'init', '--token', 'trent', '--db', 'ca.db', '--out', 'root.pem', '--days', '3650');
  t.match(readFileSync(join(cwd, 'root.pem'), 'utf8'), /BEGIN CERTIFICATE/);

  ok(t, 'hsm', 'keygen', '--token', 'clinic', '--key', 'gw1');
  ok(
    t,
    'hsm',
    'csr',
    '--token',
    'clinic',
    '--key',
    'gw1',
    '--role',
    'gateway',
    '--id',
    'gw-1',
    '--out',
    'gw1.csr',
  );
  t.equal(
    openssl('req', '-in', 'gw1.csr', '-noout', '-verify').status,
    0,
    'openssl verifies the CSR',
  );
  const issued = ok(
    t,
    'ca',
    'issue',
    '--db',
    'ca.db',
    '--token',
    'trent',
    '--csr',
    'gw1.csr',
    '--role',
    'gateway',
    '--id',
    'gw-1',
    '--days',
    '30',
    '--out',
    'gw1.pem',
  );
  const serial = /serial ([0-9a-f]+)/.exec(issued)?.[1] ?? '';
  t.match(serial, /^[0-9a-f]{32}$/);
  const v = openssl('verify', '-CAfile', 'root.pem', 'gw1.pem');
  t.equal(v.status, 0, v.out);
  const text = openssl('x509', '-in', 'gw1.pem', '-noout', '-text').out;
  t.match(text, /URI:urn:medchain:gateway:gw-1/);
  t.match(text, /OU = gateway, CN = gw-1/);

  ok(t, 'hsm', 'keygen', '--token', 'ward', '--key', 'rd1', '--usage', 'derive');
  const csrForReader = medchain(
    'hsm',
    'csr',
    '--token',
    'ward',
    '--key',
    'rd1',
    '--role',
    'reader',
    '--id',
    'dr-1',
    '--out',
    'x.csr',
  );
  t.equal(csrForReader.status, 2);
  t.match(csrForReader.stderr, /HSM_BAD_INPUT.*ca issue --role reader --pubkey/);
  ok(t, 'hsm', 'pubkey', '--token', 'ward', '--key', 'rd1', '--out', 'rd1.pub.pem');
  ok(
    t,
    'ca',
    'issue',
    '--db',
    'ca.db',
    '--token',
    'trent',
    '--pubkey',
    'rd1.pub.pem',
    '--role',
    'reader',
    '--id',
    'dr-1',
    '--out',
    'rd1.pem',
  );
  t.match(openssl('x509', '-in', 'rd1.pem', '-noout', '-text').out, /Key Agreement/);

  const list = JSON.parse(ok(t, 'ca', 'list', '--db', 'ca.db', '--json')) as {
    serial: string;
    role: string;
    id: string;
  }[];
  t.same(
    list.map((c) => [c.role, c.id]),
    [
      ['ca', 'trent'],
      ['gateway', 'gw-1'],
      ['reader', 'dr-1'],
    ],
  );

  ok(t, 'ca', 'revoke', '--db', 'ca.db', '--serial', serial, '--reason', 'keyCompromise');
  ok(t, 'ca', 'crl', '--db', 'ca.db', '--token', 'trent', '--out', 'crl.pem');
  const crl = openssl('crl', '-CAfile', 'root.pem', '-in', 'crl.pem', '-noout');
  t.equal(crl.status, 0, crl.out);
  t.match(crl.out, /verify OK/);
  const revoked = openssl(
    'verify',
    '-crl_check',
    '-CRLfile',
    'crl.pem',
    '-CAfile',
    'root.pem',
    'gw1.pem',
  );
  t.not(revoked.status, 0);
  t.match(revoked.out, /certificate revoked/);
  const reader = openssl(
    'verify',
    '-crl_check',
    '-CRLfile',
    'crl.pem',
    '-CAfile',
    'root.pem',
    'rd1.pem',
  );
  t.equal(reader.status, 0, reader.out);
  t.match(ok(t, 'ca', 'list', '--db', 'ca.db'), new RegExp(`${serial}.*revoked.*keyCompromise`));
});

t.test('ca list | head: a reader that leaves early ends the command quietly', async (t) => {
  const child = spawn(process.execPath, [BIN, 'ca', 'list', '--db', 'ca.db'], {
    env,
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The reader is gone before the command writes its first line: every write gets EPIPE.
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const [code, signal] = (await once(child, 'close')) as [number | null, string | null];
  t.equal(stderr, '', 'nothing on stderr (no EPIPE stack trace)');
  t.equal(code, 0);
  t.equal(signal, null);
});

t.test('bad input reaches the operator as a stable code, nothing is written', async (t) => {
  const before = ok(t, 'ca', 'list', '--db', 'ca.db', '--json');
  writeFileSync(join(cwd, 'garbage.csr'), 'definitely not a CSR');
  const cases: [string[], RegExp][] = [
    [
      [
        'ca',
        'issue',
        '--db',
        'ca.db',
        '--token',
        'trent',
        '--csr',
        'garbage.csr',
        '--role',
        'gateway',
        '--id',
        'g',
        '--out',
        'o.pem',
      ],
      /CA_CSR_MALFORMED/,
    ],
    [
      [
        'ca',
        'issue',
        '--db',
        'ca.db',
        '--token',
        'trent',
        '--csr',
        'gw1.csr',
        '--role',
        'plumber',
        '--id',
        'gw-1',
        '--out',
        'o.pem',
      ],
      /CA_ROLE_UNKNOWN/,
    ],
    [
      [
        'ca',
        'issue',
        '--db',
        'ca.db',
        '--token',
        'trent',
        '--csr',
        'gw1.csr',
        '--role',
        'notary',
        '--id',
        'gw-1',
        '--out',
        'o.pem',
      ],
      /CA_CSR_MISMATCH/,
    ],
    [
      [
        'ca',
        'issue',
        '--db',
        'ca.db',
        '--token',
        'trent',
        '--csr',
        'gw1.csr',
        '--role',
        'gateway',
        '--id',
        'gw-2',
        '--out',
        'o.pem',
      ],
      /CA_CSR_MISMATCH/,
    ],
    [
      [
        'ca',
        'issue',
        '--db',
        'ca.db',
        '--token',
        'trent',
        '--pubkey',
        'rd1.pub.pem',
        '--role',
        'reader',
        '--id',
        'dr-1',
        '--out',
        'o.pem',
      ],
      /CA_DUPLICATE_ID/,
    ],
    [
      [
        'ca',
        'issue',
        '--db',
        'ca.db',
        '--token',
        'trent',
        '--csr',
        'gw1.csr',
        '--role',
        'gateway',
        '--id',
        'gw-1',
        '--days',
        'ten',
        '--out',
        'o.pem',
      ],
      /CA_BAD_VALIDITY/,
    ],
    [
      ['ca', 'revoke', '--db', 'ca.db', '--serial', '0123abcd', '--reason', 'superseded'],
      /CA_SERIAL_UNKNOWN/,
    ],
    [['ca', 'revoke', '--db', 'ca.db', '--serial', '01', '--reason', 'bored'], /CA_REASON_UNKNOWN/],
    [
      ['ca', 'init', '--token', 'trent', '--db', 'ca.db', '--out', 'r.pem'],
      /CA_ALREADY_INITIALISED/,
    ],
    [['ca', 'list', '--db', 'nowhere.db'], /CA_NOT_INITIALISED/],
  ];
  for (const [args, code] of cases) {
    const r = medchain(...args);
    t.equal(r.status, 2, args.join(' '));
    t.match(r.stderr, code);
  }
  const serial =
    (JSON.parse(before) as { role: string; serial: string }[]).find((c) => c.role === 'gateway')
      ?.serial ?? '';
  const twice = medchain(
    'ca',
    'revoke',
    '--db',
    'ca.db',
    '--serial',
    serial,
    '--reason',
    'superseded',
  );
  t.match(twice.stderr, /CA_ALREADY_REVOKED/);
  t.equal(ok(t, 'ca', 'list', '--db', 'ca.db', '--json'), before, 'the CA database is unchanged');
  t.notOk(existsSync(join(cwd, 'o.pem')), 'no certificate file was written');
  t.notOk(existsSync(join(cwd, 'nowhere.db')), 'list did not create a database');
});
