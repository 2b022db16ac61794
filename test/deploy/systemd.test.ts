/**
 * The systemd units of the ops kit: `systemd-analyze verify` finds nothing to say about
 * them, and `systemd-analyze security` rates their sandbox at most 2.0 ("OK") with the
 * hardening the issue asks for present.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

const DIR = join(import.meta.dirname, '..', '..', 'deploy', 'systemd');
const tmp = mkdtempSync(join(tmpdir(), 'medchain-units-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

for (const unit of ['medchain-gateway.service', 'medchain-notary.service']) {
  t.test(unit, async (t) => {
    let text = readFileSync(join(DIR, unit), 'utf8');
    for (const line of [
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'PrivateTmp=yes',
      'ProtectHome=yes',
      'CapabilityBoundingSet=',
      'KillMode=control-group',
    ]) {
      t.match(text, new RegExp(`^${line}$`, 'm'), line);
    }
    t.match(text, /^ReadWritePaths=\/var\/lib\/medchain\/\w+ /m);
    // verify checks that ExecStart's program exists: Debian's nodejs is /usr/bin/node;
    // elsewhere (a CI image with its own Node) the unit is checked with this node.
    if (!existsSync('/usr/bin/node')) text = text.replaceAll('/usr/bin/node', process.execPath);
    const file = join(tmp, unit);
    writeFileSync(file, text);
    const v = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
    t.equal(v.status, 0, v.stderr);
    t.equal(v.stderr, '', 'no warnings');
    const s = spawnSync('systemd-analyze', ['security', '--offline=true', file], {
      encoding: 'utf8',
    });
    const level = /Overall exposure level for \S+: ([\d.]+)/.exec(s.stdout);
    t.ok(level, s.stdout.slice(-300) + s.stderr);
    t.ok(Number(level?.[1]) <= 2, `exposure ${level?.[1]} (at most 2.0)`);
  });
}
