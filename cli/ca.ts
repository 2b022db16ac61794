import { createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { CertificateAuthority } from '../ca/authority.js';
import { createCrl, crlNumberOf, writeCrl } from '../ca/crl.js';
import { crlDer, startCrlServer } from '../ca/crl-server.js';
import { MAX_CSR_BYTES } from '../ca/csr.js';
import { CaCode, CaError } from '../ca/errors.js';
import { LEAF_ROLES } from '../ca/identity.js';
import { CRL_TOPIC, type PublishOptions, publishCrl } from '../ca/publish.js';
import { REVOCATION_REASONS } from '../ca/reasons.js';
import type { Token } from '../hsm/token.js';
import { createLogger } from '../ops/log.js';
import { print, type TokenFlags, tokenOptions, withToken } from './hsm.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function days(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new CaError(CaCode.Validity, `--days: a whole number of days (got '${value}').`);
  }
  return n;
}

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    const data = await readFile(path);
    if (data.length > MAX_CSR_BYTES) throw new Error(`over ${MAX_CSR_BYTES} bytes`);
    return data;
  } catch (err) {
    throw new CaError(
      CaCode.BadInput,
      `cannot read the ${what} ${path}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** PEM or DER as given: text when it looks like PEM, bytes otherwise. */
function pemOrDer(data: Buffer): string | Uint8Array {
  return data.includes('-----BEGIN') ? data.toString('utf8') : data;
}

function spkiFromFile(data: Buffer, path: string): Uint8Array {
  try {
    const key = createPublicKey(
      data.includes('-----BEGIN')
        ? data.toString('utf8')
        : { key: data, format: 'der', type: 'spki' },
    );
    return key.export({ format: 'der', type: 'spki' });
  } catch (err) {
    throw new CaError(
      CaCode.KeyUnsupported,
      `${path} is not a public key (PEM or DER SPKI): ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

async function withCa<T>(
  db: string,
  token: Token | undefined,
  fn: (ca: CertificateAuthority) => Promise<T>,
): Promise<T> {
  const ca = await CertificateAuthority.open({ dbPath: db, signer: token });
  try {
    return await fn(ca);
  } finally {
    await ca.close();
  }
}

type CrlFlags = TokenFlags & {
  db: string;
  out: string;
  days: number;
  format: 'pem' | 'der';
  publish?: string;
  tlsKey?: string;
  tlsCert?: string;
  tlsCa?: string;
  notary?: string;
  clientId?: string;
};

/** Checks the publishing flags before anything is signed, and reads the TLS files. */
async function publishOptions(o: CrlFlags, rootPem: string): Promise<PublishOptions> {
  const tlsFlags = [o.tlsKey, o.tlsCert, o.tlsCa, o.notary, o.clientId].some(
    (v) => v !== undefined,
  );
  if (o.publish === undefined) {
    if (tlsFlags) {
      throw new CaError(
        CaCode.BadInput,
        '--tls-key, --tls-cert, --tls-ca, --notary and --client-id need --publish',
      );
    }
    return {};
  }
  if ((o.tlsKey === undefined) !== (o.tlsCert === undefined)) {
    throw new CaError(CaCode.BadInput, '--tls-key and --tls-cert go together');
  }
  if (o.tlsKey === undefined && (o.tlsCa !== undefined || o.notary !== undefined)) {
    throw new CaError(CaCode.BadInput, '--tls-ca and --notary need --tls-key and --tls-cert');
  }
  const opts: PublishOptions = { clientId: o.clientId };
  if (o.tlsKey !== undefined && o.tlsCert !== undefined) {
    opts.tls = {
      key: await readInput(o.tlsKey, 'TLS key'),
      cert: await readInput(o.tlsCert, 'TLS certificate'),
      ca: o.tlsCa === undefined ? rootPem : await readInput(o.tlsCa, 'TLS root'),
      notaryId: o.notary,
    };
  }
  return opts;
}

export function caCommand(): Command {
  const ca = new Command('ca').description(
    'Trent, the certification authority: root, issue, list, revoke, CRL',
  );

  tokenOptions(ca.command('init'))
    .description(
      'generate the root key on the CA token, self-sign the root and create the CA database',
    )
    .option('--key <label>', 'root key label on the CA token', 'ca-root')
    .requiredOption('--db <file>', 'CA database to create (SQLite)')
    .requiredOption('--out <file>', 'root certificate output (PEM)')
    .option('--days <n>', 'root validity in days', days, 3650)
    .option('--name <cn>', 'CN of the root', 'medchain Trent')
    .option('--org <o>', 'O of every subject this CA issues', 'medchain')
    .option(
      '--crl-url <url>',
      'CRL Distribution Point (http://…/crl, see `ca serve`) written into every certificate',
    )
    .action(
      (
        o: TokenFlags & {
          key: string;
          db: string;
          out: string;
          days: number;
          name: string;
          org: string;
          crlUrl?: string;
        },
      ) => {
        if (existsSync(o.db)) {
          throw new CaError(
            CaCode.AlreadyInitialised,
            `${o.db} already exists; a CA is initialised once. Choose another --db for a new CA.`,
          );
        }
        return withToken(o, async (t) => {
          const info = t.generateKey(o.key);
          const authority = await CertificateAuthority.init({
            dbPath: o.db,
            signer: t,
            keyLabel: o.key,
            spki: info.publicKey.spki,
            days: o.days,
            name: o.name,
            org: o.org,
            crlUrl: o.crlUrl,
          });
          try {
            await writeFile(
              o.out,
              authority.rootPem.endsWith('\n') ? authority.rootPem : `${authority.rootPem}\n`,
            );
            print(
              `root '${authority.root.subject}' serial ${authority.meta.rootSerial}, key '${o.key}' on token '${t.label}'`,
            );
            print(`root certificate written to ${o.out}; CA database ${o.db}`);
          } finally {
            await authority.close();
          }
        });
      },
    );

  tokenOptions(ca.command('issue'))
    .description(
      'issue a certificate from a CSR (readers: from their public key), signed on the CA token',
    )
    .requiredOption('--db <file>', 'CA database')
    .option('--csr <file>', 'PKCS#10 request (PEM or DER) from `medchain hsm csr`')
    .option('--pubkey <file>', 'readers only: public key (from `medchain hsm pubkey`)')
    .requiredOption('--role <role>', LEAF_ROLES.join(' | '))
    .requiredOption('--id <id>', 'participant id')
    .addOption(
      new Option(
        '--purpose <purpose>',
        'signing: the token key; tls: a transport key (CSR from openssl req)',
      )
        .choices(['signing', 'tls'])
        .default('signing'),
    )
    .option('--dns <name>', 'TLS only: a host name the service answers on (repeat)', collect, [])
    .option(
      '--ip <address>',
      'TLS only: an IP address the service answers on (repeat)',
      collect,
      [],
    )
    .option('--days <n>', 'validity in days', days, 365)
    .requiredOption('--out <file>', 'certificate output (PEM)')
    .action(
      (
        o: TokenFlags & {
          db: string;
          csr?: string;
          pubkey?: string;
          role: string;
          id: string;
          purpose: 'signing' | 'tls';
          dns: string[];
          ip: string[];
          days: number;
          out: string;
        },
      ) =>
        withToken(o, async (t) => {
          if ((o.csr === undefined) === (o.pubkey === undefined)) {
            throw new CaError(
              CaCode.BadInput,
              'give exactly one of --csr (every role) or --pubkey (readers).',
            );
          }
          const csr = o.csr === undefined ? undefined : pemOrDer(await readInput(o.csr, 'CSR'));
          const readerSpki =
            o.pubkey === undefined
              ? undefined
              : spkiFromFile(await readInput(o.pubkey, 'public key'), o.pubkey);
          await withCa(o.db, t, async (authority) => {
            const { record, certificate } = await authority.issue({
              role: o.role,
              id: o.id,
              csr,
              readerSpki,
              purpose: o.purpose,
              hosts: { dns: o.dns, ip: o.ip },
              days: o.days,
            });
            await writeFile(o.out, `${certificate.toString('pem')}\n`);
            print(
              `issued ${o.purpose} certificate for ${record.role} '${record.id}' serial ${record.serial}, valid until ${record.notAfter}`,
            );
            print(`certificate written to ${o.out}`);
          });
        }),
    );

  tokenOptions(ca.command('renew'))
    .description(
      'renew a certificate for the same key, role, id, purpose and host names (the old one is not revoked)',
    )
    .requiredOption('--db <file>', 'CA database')
    .requiredOption('--serial <hex>', 'serial of the certificate to renew (as `ca list` prints it)')
    .option('--days <n>', 'validity in days', days, 365)
    .requiredOption('--out <file>', 'certificate output (PEM)')
    .action((o: TokenFlags & { db: string; serial: string; days: number; out: string }) =>
      withToken(o, (t) =>
        withCa(o.db, t, async (authority) => {
          const { record, certificate } = await authority.renew(o.serial, { days: o.days });
          await writeFile(o.out, `${certificate.toString('pem')}\n`);
          print(
            `renewed ${record.role} '${record.id}': serial ${record.serial}, valid until ${record.notAfter}, written to ${o.out}`,
          );
        }),
      ),
    );

  ca.command('list')
    .description('list issued certificates and their revocation status (no token needed)')
    .requiredOption('--db <file>', 'CA database')
    .option('--json', 'print JSON')
    .action((o: { db: string; json?: boolean }) =>
      withCa(o.db, undefined, async (authority) => {
        const rows = (await authority.list()).map(({ pem: _pem, ...r }) => r);
        if (o.json) return print(JSON.stringify(rows, null, 2));
        for (const r of rows) {
          const status = r.revocation
            ? `revoked ${r.revocation.revokedAt} (${r.revocation.reason})`
            : 'valid';
          print(
            `${r.serial}  ${r.role.padEnd(7)}  ${r.id.padEnd(20)}  until ${r.notAfter}  ${status}`,
          );
        }
      }),
    );

  ca.command('revoke')
    .description(
      'revoke a certificate by serial (final); publish a new CRL afterwards with `ca crl`',
    )
    .requiredOption('--db <file>', 'CA database')
    .requiredOption('--serial <hex>', 'certificate serial (as `ca list` prints it)')
    .requiredOption('--reason <reason>', REVOCATION_REASONS.join(' | '))
    .action((o: { db: string; serial: string; reason: string }) =>
      withCa(o.db, undefined, async (authority) => {
        const rev = await authority.revoke(o.serial, o.reason);
        print(
          `revoked ${rev.serial} at ${rev.revokedAt} (${rev.reason}); run 'medchain ca crl' to publish it`,
        );
      }),
    );

  tokenOptions(ca.command('crl'))
    .description('sign a CRL on the CA token; write it and optionally publish it retained on MQTT')
    .requiredOption('--db <file>', 'CA database')
    .requiredOption('--out <file>', 'CRL output')
    .option('--days <n>', 'days until nextUpdate', days, 7)
    .addOption(
      new Option('--format <format>', 'file encoding').choices(['pem', 'der']).default('pem'),
    )
    .option(
      '--publish <url>',
      `also publish retained (QoS 1) on ${CRL_TOPIC}, e.g. mqtt://127.0.0.1:1883`,
    )
    .option('--tls-key <file>', 'TLS client key (PEM) for --publish mqtts://, e.g. to a notary')
    .option('--tls-cert <file>', 'its Trent TLS certificate (PEM), a role the broker admits')
    .option('--tls-ca <file>', "root the broker's certificate chains to (default: this CA's root)")
    .option('--notary <id>', 'the broker is notary <id>: check its certificate names it')
    .option('--client-id <id>', 'MQTT client id (default: {certificate id}-crl with --tls-cert)')
    .action((o: CrlFlags) =>
      withToken(o, (t) =>
        withCa(o.db, t, async (authority) => {
          const publish = await publishOptions(o, authority.rootPem);
          const crl = await createCrl(authority, { days: o.days });
          await writeCrl(o.out, crl, o.format);
          const n = (await authority.revocations()).length;
          print(
            `CRL number ${crlNumberOf(crl)} with ${n} revocation(s), next update ${crl.nextUpdate?.toISOString()}, written to ${o.out}`,
          );
          if (o.publish !== undefined) {
            await publishCrl(o.publish, crl, publish);
            print(`CRL published retained on ${o.publish} ${CRL_TOPIC}`);
          }
        }),
      ),
    );

  ca.command('crl-url')
    .description('set the CRL Distribution Point written into certificates issued from now on')
    .requiredOption('--db <file>', 'CA database')
    .requiredOption('--url <url>', 'http://…/crl (where `ca serve` answers)')
    .action((o: { db: string; url: string }) =>
      withCa(o.db, undefined, async (authority) => {
        await authority.setCrlUrl(o.url);
        print(`certificates issued from now on name the CRL at ${o.url}`);
      }),
    );

  ca.command('serve')
    .description('answer the CRL Distribution Point: GET /crl (DER), /root.pem, /healthz')
    .requiredOption('--crl <file>', 'the CRL file `ca crl` writes (read again at every request)')
    .option('--root <file>', "Trent's root certificate, served on /root.pem")
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0: any free one, printed)', (v) => Number(v), 8099)
    .action(async (o: { crl: string; root?: string; host: string; port: number }) => {
      if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
        throw new CaError(CaCode.BadInput, `--port: 0 to 65535 (got '${o.port}').`);
      }
      await crlDer(o.crl).catch((err: Error) => {
        throw new CaError(CaCode.BadInput, `--crl ${o.crl} is not a readable CRL: ${err.message}`);
      });
      const rootPem =
        o.root === undefined ? undefined : (await readInput(o.root, 'root')).toString('utf8');
      const log = createLogger({ name: 'medchain-ca-serve' });
      const server = await startCrlServer({ ...o, crlPath: o.crl, rootPem, log });
      print(`serving the CRL on ${server.url}`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
    });

  return ca;
}
