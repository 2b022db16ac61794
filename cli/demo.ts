import { createHash, diffieHellman, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { MedchainError } from '../core/errors.js';
import { ChildSigner } from '../hsm/child-signer.js';
import { createSoftHsmSandbox, initToken } from '../hsm/softhsm.js';
import { type KeyUsage, Token } from '../hsm/token.js';

interface DemoFlags {
  signs: string;
  keep?: string;
  json?: boolean;
}

/** The participants of a medchain deployment, each with its own token and key. */
const PARTICIPANTS: { token: string; key: string; usage: KeyUsage; role: string }[] = [
  { token: 'trent', key: 'ca-root', usage: 'sign', role: 'certification authority' },
  { token: 'notary-1', key: 'notary', usage: 'sign', role: 'institution notary' },
  { token: 'gateway-1', key: 'gateway', usage: 'sign', role: 'clinic gateway' },
  { token: 'reader-1', key: 'reader-kem', usage: 'derive', role: 'authorised reader (HPKE)' },
];

function say(json: boolean | undefined, line: string): void {
  if (!json) process.stdout.write(`${line}\n`);
}

/**
 * What runs end to end today: every participant's key generated on its own
 * SoftHSM2 token, a burst of block-header digests signed through the supervised
 * signer process and verified, and a reader's ECDH on its token.
 */
async function runDemo(o: DemoFlags): Promise<void> {
  const signs = Number.parseInt(o.signs, 10);
  if (!Number.isSafeInteger(signs) || signs < 1 || signs > 1_000_000) {
    throw new MedchainError('CLI_USAGE', '--signs: a whole number from 1 to 1000000');
  }
  const dir = o.keep ? resolve(o.keep) : undefined;
  const sandbox = createSoftHsmSandbox({ useInProcess: true, ...(dir ? { dir } : {}) });
  const pins = new Map<string, string>();
  try {
    say(o.json, `medchain demo: SoftHSM2 tokens in ${sandbox.dir}`);
    const keys = [];
    for (const p of PARTICIPANTS) {
      const pin = randomBytes(6).toString('hex');
      pins.set(p.token, pin);
      initToken({ label: p.token, soPin: randomBytes(8).toString('hex'), userPin: pin });
      const token = Token.open({ label: p.token, pin, sessions: 1 });
      try {
        const k = token.generateKey(p.key, p.usage);
        const fp = createHash('sha256').update(k.publicKey.spki).digest('hex').slice(0, 16);
        keys.push({
          token: p.token,
          key: p.key,
          role: p.role,
          sensitive: k.sensitive,
          extractable: k.extractable,
          spkiSha256: fp,
        });
        say(
          o.json,
          `  ${p.role.padEnd(26)} token ${p.token.padEnd(10)} key ${p.key.padEnd(10)} sensitive=${k.sensitive} extractable=${k.extractable} spki-sha256=${fp}…`,
        );
      } finally {
        token.close();
      }
    }

    const signer = await ChildSigner.start({
      token: 'gateway-1',
      pin: pins.get('gateway-1') ?? '',
      keys: ['gateway'],
    });
    let verified = 0;
    let seconds = 0;
    try {
      const headers = Array.from({ length: signs }, (_, i) =>
        Buffer.from(`internal block header ${i}`),
      );
      const t0 = process.hrtime.bigint();
      const sigs = await Promise.all(
        headers.map((h) => signer.signDigest('gateway', createHash('sha256').update(h).digest())),
      );
      seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const pub = signer.publicKey('gateway').keyObject;
      verified = sigs.filter((s, i) =>
        verify('sha256', headers[i] ?? Buffer.alloc(0), { key: pub, dsaEncoding: 'ieee-p1363' }, s),
      ).length;
    } finally {
      await signer.close();
    }
    say(
      o.json,
      `  gateway signer process: ${verified}/${signs} signatures verified, ${Math.round(signs / seconds)} signs/s`,
    );

    const reader = Token.open({ label: 'reader-1', pin: pins.get('reader-1') ?? '', sessions: 1 });
    let ecdhAgrees = false;
    try {
      const sender = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = sender.publicKey.export({ format: 'jwk' });
      const point = Buffer.concat([
        Buffer.from([4]),
        Buffer.from(jwk.x ?? '', 'base64url'),
        Buffer.from(jwk.y ?? '', 'base64url'),
      ]);
      const z = await reader.deriveSharedSecret('reader-kem', point);
      const expected = diffieHellman({
        privateKey: sender.privateKey,
        publicKey: reader.publicKey('reader-kem').keyObject,
      });
      ecdhAgrees = Buffer.from(z).equals(expected);
    } finally {
      reader.close();
    }
    say(o.json, `  reader ECDH on its token agrees with the sender: ${ecdhAgrees}`);

    const ok = verified === signs && ecdhAgrees && keys.every((k) => k.sensitive && !k.extractable);
    if (dir) {
      const pinDir = join(dir, 'pins');
      mkdirSync(pinDir, { recursive: true, mode: 0o700 });
      for (const [label, pin] of pins)
        writeFileSync(join(pinDir, `${label}.pin`), `${pin}\n`, { mode: 0o600 });
      say(
        o.json,
        `  kept: SOFTHSM2_CONF=${sandbox.confPath} medchain hsm list --token gateway-1 --pin-file ${join(pinDir, 'gateway-1.pin')}`,
      );
    }
    if (o.json) {
      process.stdout.write(
        `${JSON.stringify({ ok, tokens: keys, signs, verified, signsPerSec: Math.round(signs / seconds), ecdhAgrees, kept: dir ?? null }, null, 2)}\n`,
      );
    } else {
      say(o.json, ok ? 'demo OK' : 'demo FAILED');
    }
    if (!ok) process.exitCode = 1;
  } finally {
    if (!dir) sandbox.cleanup();
  }
}

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'run medchain on this machine with tokens it provisions itself (today: the HSM layer end to end)',
    )
    .option('--signs <n>', 'block headers to sign through the gateway signer', '2000')
    .option(
      '--keep <dir>',
      'provision tokens in DIR and keep them (PINs in DIR/pins) for exploration',
    )
    .option('--json', 'print the summary as JSON')
    .action((o: DemoFlags) => runDemo(o));
}
