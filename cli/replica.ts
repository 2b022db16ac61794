/**
 * medchain replica --notary URL --db FILE [--root ca.pem] [--mqtt URL --tls-key F --tls-cert F]
 *     follow a notary into a verified copy until SIGINT/SIGTERM (exit 0) or a fork (exit 3)
 * medchain replica export --db FILE --out X.cbor     the copy in the notary export format
 * medchain replica forks --db FILE                   fork evidence held (exit 3 if any)
 * medchain replica verify-fork FILE --root ca.pem    check an evidence file offline (exit 0 if proven)
 */
import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import { writeExport } from '../broker/export.js';
import { Replica, type ReplicaFork } from '../broker/replica.js';
import { ReplicaCode, ReplicaError } from '../broker/replica-errors.js';
import { verifyForkFile } from '../broker/replica-fork-verify.js';
import { startReplicaHttp } from '../broker/replica-http.js';
import { ReplicaMetrics } from '../broker/replica-metrics.js';
import { ReplicaStore } from '../broker/replica-store.js';
import { parseRoleUri } from '../ca/identity.js';
import { SubjectAlternativeNameExtension, X509Certificate } from '../ca/x509.js';
import { createLogger } from '../ops/log.js';

/** Exit status of a replica that found a fork (distinct from failures, 1 and 2). */
export const FORK_EXIT = 3;

interface RunFlags {
  notary?: string;
  db?: string;
  root?: string;
  crl?: string;
  notaryId?: string;
  mqtt?: string;
  tlsKey?: string;
  tlsCert?: string;
  clientId?: string;
  pollMs?: string;
  evidenceDir?: string;
  http?: string;
  logLevel?: string;
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

const usage = (m: string) => new ReplicaError(ReplicaCode.Config, m);

function readBytes(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw usage(`${what} ${path}: ${(err as Error).message}`);
  }
}

const read = (path: string, what: string): string => readBytes(path, what).toString('utf8');

/** Opens an existing replica database (export and forks never create one). */
function openExisting(db: string): Promise<ReplicaStore> {
  if (!existsSync(db)) throw usage(`${db}: no such replica database`);
  return ReplicaStore.open(db);
}

function int(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v)) throw usage(`${name}: a non-negative integer`);
  return Number(v);
}

/** The participant id in a Trent certificate's SAN (the MQTT client id must start with it). */
function certificateId(pem: string): string {
  const san = new X509Certificate(pem).getExtension(SubjectAlternativeNameExtension);
  const uri = san?.names.items.find((n) => n.type === 'url')?.value;
  const id = uri ? parseRoleUri(uri)?.id : undefined;
  if (!id) throw usage('--tls-cert: no urn:medchain:{role}:{id} SAN');
  return id;
}

function mqttOptions(f: RunFlags, rootPem: string | undefined) {
  if (!f.mqtt) return undefined;
  const secure = f.mqtt.startsWith('mqtts:');
  if (secure && (!f.tlsKey || !f.tlsCert || !rootPem)) {
    throw usage(
      '--mqtt mqtts://…: give --tls-key, --tls-cert (a Trent TLS certificate) and --root',
    );
  }
  const cert = f.tlsCert ? read(f.tlsCert, 'TLS certificate') : undefined;
  const clientId = f.clientId ?? (cert ? `${certificateId(cert)}-replica` : 'replica');
  return {
    url: f.mqtt,
    clientId,
    ...(secure && cert && f.tlsKey && rootPem
      ? { tls: { key: read(f.tlsKey, 'TLS key'), cert, ca: rootPem } }
      : {}),
  };
}

async function run(f: RunFlags): Promise<void> {
  if (!f.notary || !f.db) throw usage('give --notary URL (the notary HTTP API) and --db FILE');
  const root = f.root ? read(f.root, 'root certificate') : undefined;
  const log = createLogger({ name: 'replica', level: f.logLevel });
  const replica = await Replica.start({
    notaryUrl: f.notary,
    dbPath: f.db,
    root,
    crl: f.crl ? readFileSync(f.crl) : undefined,
    notaryId: f.notaryId,
    mqtt: mqttOptions(f, root),
    pollMs: int(f.pollMs, '--poll-ms'),
    evidenceDir: f.evidenceDir,
    log,
    metrics: new ReplicaMetrics({ defaults: true }),
  });
  const port = int(f.http, '--http');
  const http = port === undefined ? undefined : await startReplicaHttp(replica, port);
  const addr = http?.address();
  if (addr && typeof addr === 'object') log.info({ port: addr.port }, 'replica HTTP listening');
  const fork = await new Promise<ReplicaFork | 'forked' | undefined>((resolve) => {
    if (replica.state === 'forked') return resolve('forked');
    replica.once('fork', (k: ReplicaFork) => resolve(k));
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping the replica');
      resolve(undefined);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  if (http) {
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }
  await replica.stop();
  if (fork) {
    const where =
      fork === 'forked'
        ? `the database holds fork evidence (medchain replica forks --db ${f.db})`
        : `${fork.reason} at size ${fork.size}; evidence ${fork.file}`;
    process.stderr.write(`medchain: ${ReplicaCode.Fork}: ${where}\n`);
    process.exitCode = FORK_EXIT;
  }
}

export function replicaCommand(): Command {
  const cmd = new Command('replica')
    .description('follow a notary into a verified copy of its chain; report forks')
    .enablePositionalOptions()
    .option('--notary <url>', 'the notary HTTP API (e.g. http://127.0.0.1:8080)')
    .option('--db <file>', 'the replica database (SQLite; created if absent)')
    .option('--root <file>', "Trent's root certificate (PEM); required the first time")
    .option('--crl <file>', "Trent's CRL (PEM/DER); newer ones also come over MQTT")
    .option('--notary-id <id>', 'the notary to expect (default: learnt from its certificate)')
    .option('--mqtt <url>', "the notary's MQTT broker (mqtts://) for the live feed")
    .option('--tls-key <file>', 'TLS client key (PEM) for --mqtt')
    .option('--tls-cert <file>', 'TLS client certificate from Trent for --mqtt')
    .option('--client-id <id>', 'MQTT client id (default {certificate id}-replica)')
    .option('--poll-ms <n>', 'catch-up interval when idle (default 2000, 30000 with --mqtt)')
    .option('--evidence-dir <dir>', 'where fork evidence files go (default: next to --db)')
    .option('--http <port>', 'serve /metrics /healthz /readyz /status on 127.0.0.1:port')
    .option('--log-level <level>', 'pino level (default info)')
    .action((flags: RunFlags) => run(flags));

  cmd
    .command('export')
    .description('write the copy as a notary chain export (docs/FORMAT-export.md)')
    .requiredOption('--db <file>', 'replica database')
    .requiredOption('--out <file>', 'output file (must not exist)')
    .action(async (flags: { db: string; out: string }) => {
      const store = await openExisting(flags.db);
      try {
        const n = await writeExport(store.chain, flags.out);
        print(`exported ${n} entries to ${flags.out}`);
      } finally {
        await store.close();
      }
    });

  cmd
    .command('forks')
    .description('list the fork evidence held in a replica database')
    .requiredOption('--db <file>', 'replica database')
    .action(async (flags: { db: string }) => {
      const store = await openExisting(flags.db);
      try {
        const forks = await store.forks();
        for (const k of forks) {
          print(
            JSON.stringify({
              id: k.id,
              reason: k.reason,
              size: k.size,
              first: k.first.kind,
              detail: k.detail,
              detectedAt: new Date(k.detectedAt).toISOString(),
            }),
          );
        }
        if (forks.length > 0) process.exitCode = FORK_EXIT;
        else print('no fork evidence');
      } finally {
        await store.close();
      }
    });
  cmd
    .command('verify-fork <file>')
    .description(
      "check a fork evidence file offline with Trent's root (exit 0 if it proves a fork)",
    )
    .requiredOption('--root <file>', "Trent's root certificate (PEM)")
    .action(async (file: string, flags: { root: string }) => {
      const bytes = new Uint8Array(readBytes(file, 'evidence file'));
      const v = await verifyForkFile(bytes, read(flags.root, 'root certificate'));
      print(
        JSON.stringify(
          v.ok
            ? {
                ok: true,
                proven: v.proven,
                notaryId: v.fork.notaryId,
                reason: v.fork.reason,
                size: v.fork.size,
                detail: v.detail,
              }
            : v,
        ),
      );
      if (!v.ok || !v.proven) process.exitCode = 1;
    });
  return cmd;
}
