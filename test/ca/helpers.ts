import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority, type InitOptions } from '../../ca/authority.js';
import { createCsr } from '../../ca/csr.js';
import type { Role } from '../../ca/identity.js';
import { Token } from '../../hsm/token.js';
import { softHsmFixture, USER_PIN } from '../helpers/softhsm.js';

type Teardown = { teardown(fn: () => unknown): void };

/** A temp directory removed when the test ends. */
export function tempDir(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'medchain-ca-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Fresh SoftHSM tokens for this test process, opened and closed with the test. */
export function tokens(t: Teardown, labels: string[]): Record<string, Token> {
  softHsmFixture(t, labels);
  const out: Record<string, Token> = {};
  for (const label of labels) {
    const token = Token.open({ label, pin: USER_PIN, sessions: 2 });
    t.teardown(() => token.close());
    out[label] = token;
  }
  return out;
}

/** A CA whose root key is generated on `token` now. */
export async function initCa(
  token: Token,
  dbPath: string,
  extra: Partial<InitOptions> = {},
): Promise<CertificateAuthority> {
  const label = extra.keyLabel ?? 'ca-root';
  const info = token.generateKey(label);
  return CertificateAuthority.init({
    dbPath,
    signer: token,
    keyLabel: label,
    spki: info.publicKey.spki,
    ...extra,
  });
}

/** A participant key generated on `token` and its CSR signed there. */
export async function participantCsr(
  token: Token,
  keyLabel: string,
  role: Role,
  id: string,
): Promise<string> {
  const info = token.hasKey(keyLabel) ? token.keyInfo(keyLabel) : token.generateKey(keyLabel);
  return createCsr({ signer: token, keyLabel, spki: info.publicKey.spki, role, id });
}

/** OpenSSL as the outside judge. */
export function openssl(args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}
