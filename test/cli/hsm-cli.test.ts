import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createSoftHsmSandbox } from '../../hsm/softhsm.js';

// The CLI as users run it: the built bin, a fresh token directory, PINs from env.
const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
if (!existsSync(BIN)) throw new Error(`${BIN} missing: run 'npm run build' first (npm test does)`);

const sandbox = createSoftHsmSandbox();
t.teardown(() => sandbox.cleanup());
const env = {
  ...process.env,
  ...sandbox.env,
  MEDCHAIN_HSM_SO_PIN: '11223344',
  MEDCHAIN_HSM_PIN: '55667788',
  MEDCHAIN_LOG_LEVEL: 'silent',
};

function medchain(args: string[], extraEnv: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BIN, ...args], {
    env: { ...env, ...extraEnv },
    cwd: sandbox.dir,
    encoding: 'utf8',
  });
}

t.test('init, keygen, pubkey, sign: openssl verifies the signature', async (t) => {
  const init = medchain(['hsm', 'init', '--token', 'clinic']);
  t.equal(init.status, 0, init.stderr);
  const keygen = medchain(['hsm', 'keygen', '--token', 'clinic', '--key', 'gw']);
  t.equal(keygen.status, 0, keygen.stderr);
  t.match(keygen.stdout, /BEGIN PUBLIC KEY/);
  t.equal(
    medchain(['hsm', 'pubkey', '--token', 'clinic', '--key', 'gw', '--out', 'pub.pem']).status,
    0,
  );
  const file = join(sandbox.dir, 'reading.bin');
  writeFileSync(file, 'SpO2 97 % at 2026-11-25T03:00:00Z');
  const sign = medchain([
    'hsm',
    'sign',
    '--token',
    'clinic',
    '--key',
    'gw',
    '--in',
    file,
    '--out',
    'sig.der',
  ]);
  t.equal(sign.status, 0, sign.stderr);
  const out = execFileSync(
    'openssl',
    ['dgst', '-sha256', '-verify', 'pub.pem', '-signature', 'sig.der', file],
    { cwd: sandbox.dir, encoding: 'utf8' },
  );
  t.match(out, /Verified OK/);
  writeFileSync(file, 'SpO2 98 % at 2026-11-25T03:00:00Z');
  const tampered = spawnSync(
    'openssl',
    ['dgst', '-sha256', '-verify', 'pub.pem', '-signature', 'sig.der', file],
    {
      cwd: sandbox.dir,
      encoding: 'utf8',
    },
  );
  t.not(tampered.status, 0, 'openssl rejects the signature over changed bytes');

  const raw = medchain([
    'hsm',
    'sign',
    '--token',
    'clinic',
    '--key',
    'gw',
    '--in',
    file,
    '--out',
    'sig.raw',
    '--raw',
  ]);
  t.equal(raw.status, 0);
  t.equal(readFileSync(join(sandbox.dir, 'sig.raw')).length, 64, '--raw writes r||s');

  const list = medchain(['hsm', 'list', '--token', 'clinic', '--json']);
  const listed = JSON.parse(list.stdout) as {
    keys: {
      label: string;
      sensitive: boolean;
      extractable: boolean;
      attributes: Record<string, boolean | null>;
    }[];
  };
  t.same(
    listed.keys.map((k) => [k.label, k.sensitive, k.extractable]),
    [['gw', true, false]],
  );
  t.same(
    listed.keys[0]?.attributes,
    {
      sign: true,
      signRecover: false,
      derive: false,
      decrypt: false,
      unwrap: false,
      modifiable: false,
      copyable: false,
      destroyable: true,
    },
    'hsm list shows the attributes the token reports: a signing key signs only',
  );
  const text = medchain(['hsm', 'list', '--token', 'clinic']).stdout;
  t.match(text, /usage=sign .*decrypt=false unwrap=false modifiable=false copyable=false/);
});

t.test('errors reach the operator as a code and a hint, with a non-zero exit', async (t) => {
  const wrongPin = medchain(['hsm', 'list', '--token', 'clinic'], { MEDCHAIN_HSM_PIN: '00000000' });
  t.equal(wrongPin.status, 2);
  t.match(wrongPin.stderr, /HSM_PIN_INCORRECT/);
  t.notMatch(wrongPin.stderr, /00000000/, 'the PIN is never printed');

  const noModule = medchain(['hsm', 'list', '--token', 'clinic', '--module', '/nonexistent.so']);
  t.match(noModule.stderr, /HSM_MODULE_NOT_FOUND/);

  const noPin = medchain(['hsm', 'list', '--token', 'clinic'], { MEDCHAIN_HSM_PIN: '' });
  t.match(noPin.stderr, /HSM_PIN_MISSING/);

  const noKey = medchain(['hsm', 'pubkey', '--token', 'clinic', '--key', 'nope', '--out', 'x.pem']);
  t.match(noKey.stderr, /HSM_KEY_NOT_FOUND/);

  const missingFile = medchain([
    'hsm',
    'sign',
    '--token',
    'clinic',
    '--key',
    'gw',
    '--in',
    'absent',
    '--out',
    's',
  ]);
  t.match(missingFile.stderr, /HSM_BAD_INPUT/);

  const again = medchain(['hsm', 'init', '--token', 'clinic']);
  t.match(again.stderr, /HSM_TOKEN_EXISTS/);

  const usage = medchain(['hsm', 'keygen', '--token', 'clinic']);
  t.not(usage.status, 0);
  t.match(usage.stderr, /--key/);
});
