/**
 * Usage errors are failures like any other (one `medchain: CLI_USAGE: …` line, exit 2,
 * the unknown option named even when a required one is missing too), `--version`
 * prints package.json's version.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { failsWith } from './failure-kit.js';
import { BIN, runCli } from './services.js';

const dir = mkdtempSync(join(tmpdir(), 'medchain-usage-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('usage errors: the unknown option is named, before a missing required one', (t) =>
  failsWith(
    t,
    runCli(t, ['verify', 'chain.cbor', '--rot', 'root.pem'], dir),
    'CLI_USAGE',
    /unknown option '--rot'.*medchain verify --help/,
  ),
);
t.test('usage errors: an unknown command', (t) =>
  failsWith(t, runCli(t, ['notarise'], dir), 'CLI_USAGE', /unknown command 'notarise'/),
);
t.test('usage errors: a missing option value', (t) =>
  failsWith(t, runCli(t, ['ca', 'list', '--db'], dir), 'CLI_USAGE', /'--db <file>'/),
);

t.test('--version prints package.json version', async (t) => {
  const pkg = JSON.parse(readFileSync(join(BIN, '..', '..', '..', 'package.json'), 'utf8'));
  const r = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8' });
  t.equal(r.status, 0);
  t.equal(r.stdout, `${pkg.version}\n`);
  t.equal(r.stderr, '');
});
