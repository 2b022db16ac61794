import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { p256 } from '@noble/curves/nist.js';
import { Command, Option } from 'commander';
import { createCsr } from '../ca/csr.js';
import { assertLeafRole, assertParticipantId, DEFAULT_ORG, LEAF_ROLES } from '../ca/identity.js';
import { HsmCode, HsmError } from '../hsm/errors.js';
import { acquireModule, listTokens, resolveModulePath } from '../hsm/module.js';
import { readPin, SO_PIN_ENV, USER_PIN_ENV } from '../hsm/pin.js';
import { initToken } from '../hsm/softhsm.js';
import { type KeyUsage, Token } from '../hsm/token.js';

export interface TokenFlags {
  token: string;
  module?: string;
  pinFile?: string;
}

export function tokenOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--token <label>', 'token label')
    .option(
      '--module <path>',
      'PKCS#11 library (default: MEDCHAIN_PKCS11_MODULE or Debian SoftHSM2)',
    )
    .option('--pin-file <file>', `file holding the user PIN (default: $${USER_PIN_ENV})`);
}

export function withToken<T>(flags: TokenFlags, fn: (token: Token) => Promise<T> | T): Promise<T> {
  const pin = readPin({ file: flags.pinFile, env: USER_PIN_ENV, what: 'user PIN' });
  const token = Token.open({ label: flags.token, pin, modulePath: flags.module, sessions: 1 });
  return Promise.resolve()
    .then(() => fn(token))
    .finally(() => token.close());
}

export function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function sha256File(path: string): Promise<Buffer> {
  const h = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  } catch (err) {
    throw new HsmError(HsmCode.BadInput, `cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return h.digest();
}

export function hsmCommand(): Command {
  const hsm = new Command('hsm').description('PKCS#11 tokens: init, keys, public keys, signing');

  hsm
    .command('init')
    .description(
      'initialise a blank token and set its user PIN (SO PIN and user PIN from env or files)',
    )
    .requiredOption('--token <label>', 'label for the new token (1-32 bytes)')
    .option('--module <path>', 'PKCS#11 library')
    .option('--so-pin-file <file>', `file holding the SO PIN (default: $${SO_PIN_ENV})`)
    .option('--pin-file <file>', `file holding the user PIN (default: $${USER_PIN_ENV})`)
    .action((o: TokenFlags & { soPinFile?: string }) => {
      const soPin = readPin({ file: o.soPinFile, env: SO_PIN_ENV, what: 'SO PIN' });
      const userPin = readPin({ file: o.pinFile, env: USER_PIN_ENV, what: 'user PIN' });
      const t = initToken({ label: o.token, soPin, userPin, modulePath: o.module });
      print(`token '${t.label}' initialised (serial ${t.serial})`);
    });

  tokenOptions(hsm.command('keygen'))
    .description(
      'generate an EC P-256 key pair on the token (private key sensitive, not extractable)',
    )
    .requiredOption('--key <label>', 'key label')
    .addOption(
      new Option('--usage <usage>', 'what the key is for')
        .choices(['sign', 'derive'])
        .default('sign'),
    )
    .action((o: TokenFlags & { key: string; usage: KeyUsage }) =>
      withToken(o, (t) => {
        const info = t.generateKey(o.key, o.usage);
        print(`key '${info.label}' (${info.usage.join(',')}) generated on token '${t.label}'`);
        print(
          info.publicKey.keyObject.export({ format: 'pem', type: 'spki' }).toString().trimEnd(),
        );
      }),
    );

  tokenOptions(hsm.command('list'))
    .description('list the EC keys on a token with their security attributes')
    .option('--json', 'print JSON')
    .action((o: TokenFlags & { json?: boolean }) =>
      withToken(o, (t) => {
        const keys = t.listKeys().map((label) => {
          const k = t.keyInfo(label);
          return {
            label: k.label,
            usage: k.usage,
            onToken: k.onToken,
            sensitive: k.sensitive,
            extractable: k.extractable,
            neverExtractable: k.neverExtractable,
            attributes: k.attributes,
            spkiSha256: createHash('sha256').update(k.publicKey.spki).digest('hex'),
          };
        });
        if (o.json) return print(JSON.stringify({ token: t.label, keys }, null, 2));
        print(`token '${t.label}': ${keys.length} key(s)`);
        for (const k of keys) {
          // As the token reports them ('?' where it does not know the attribute).
          const attrs = Object.entries(k.attributes)
            .map(([name, v]) => `${name}=${v ?? '?'}`)
            .join(' ');
          print(
            `  ${k.label}  usage=${k.usage.join(',')} sensitive=${k.sensitive} extractable=${k.extractable} ${attrs} spki-sha256=${k.spkiSha256}`,
          );
        }
      }),
    );

  hsm
    .command('tokens')
    .description('list the slots and tokens the PKCS#11 module sees (no PIN needed)')
    .option('--module <path>', 'PKCS#11 library')
    .action((o: { module?: string }) => {
      const m = acquireModule(resolveModulePath(o.module));
      try {
        for (const t of listTokens(m.p11)) {
          const state = t.initialized ? (t.userPinLocked ? 'PIN locked' : 'ready') : 'blank';
          print(`${t.initialized ? t.label : '(blank)'}\tserial=${t.serial}\t${state}`);
        }
      } finally {
        m.release();
      }
    });

  tokenOptions(hsm.command('pubkey'))
    .description("write a key's public key")
    .requiredOption('--key <label>', 'key label')
    .requiredOption('--out <file>', 'output file')
    .addOption(
      new Option('--format <format>', 'encoding').choices(['pem', 'der', 'jwk']).default('pem'),
    )
    .action((o: TokenFlags & { key: string; out: string; format: 'pem' | 'der' | 'jwk' }) =>
      withToken(o, async (t) => {
        const pk = t.publicKey(o.key);
        const bytes =
          o.format === 'der'
            ? pk.spki
            : o.format === 'jwk'
              ? `${JSON.stringify(pk.jwk)}\n`
              : pk.keyObject.export({ format: 'pem', type: 'spki' });
        await writeFile(o.out, bytes);
        print(`public key of '${o.key}' written to ${o.out} (${o.format})`);
      }),
    );

  tokenOptions(hsm.command('sign'))
    .description('sign SHA-256(FILE) on the token: DER ECDSA (openssl dgst -verify), or --raw r||s')
    .requiredOption('--key <label>', 'key label')
    .requiredOption('--in <file>', 'file to sign')
    .requiredOption('--out <file>', 'signature output')
    .option('--raw', 'write the 64-byte r||s instead of DER')
    .action((o: TokenFlags & { key: string; in: string; out: string; raw?: boolean }) =>
      withToken(o, async (t) => {
        const raw = await t.signDigest(o.key, await sha256File(o.in));
        const out = o.raw ? raw : p256.Signature.fromBytes(raw, 'compact').toBytes('der');
        await writeFile(o.out, out);
        print(
          `signature over SHA-256(${o.in}) written to ${o.out} (${o.raw ? 'raw r||s' : 'DER'})`,
        );
      }),
    );

  tokenOptions(hsm.command('csr'))
    .description('write a PKCS#10 CSR for a token key, signed on the token, naming role and id')
    .requiredOption('--key <label>', 'key label (a signing key)')
    .requiredOption('--role <role>', `participant role: ${LEAF_ROLES.join(' | ')}`)
    .requiredOption('--id <id>', 'participant id (CN and urn:medchain:{role}:{id})')
    .requiredOption('--out <file>', 'CSR output (PEM)')
    .option('--org <org>', 'O of the subject', DEFAULT_ORG)
    .action((o: TokenFlags & { key: string; role: string; id: string; out: string; org: string }) =>
      withToken(o, async (t) => {
        const role = assertLeafRole(o.role);
        const id = assertParticipantId(o.id);
        const info = t.keyInfo(o.key);
        if (!info.usage.includes('sign')) {
          throw new HsmError(
            HsmCode.BadInput,
            `key '${o.key}' is a key-agreement (derive) key and cannot sign a CSR. Give Trent its public key instead: 'medchain hsm pubkey --token ${t.label} --key ${o.key} --out reader.pem', then 'medchain ca issue --role reader --pubkey reader.pem ...'.`,
          );
        }
        const pem = await createCsr({
          signer: t,
          keyLabel: o.key,
          spki: info.publicKey.spki,
          role,
          id,
          org: o.org,
        });
        await writeFile(o.out, pem.endsWith('\n') ? pem : `${pem}\n`);
        print(`CSR for ${role} '${id}' (key '${o.key}' on token '${t.label}') written to ${o.out}`);
      }),
    );

  return hsm;
}
