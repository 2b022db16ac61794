import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { MedchainError } from '../errors/medchain-error.js';
import { fetchAnchor } from '../gateway/anchor-client.js';
import { loadConfig } from '../gateway/config.js';
import { type AnchorSource, buildReadingProof } from '../gateway/prove.js';
import { Spool } from '../gateway/spool.js';

interface Flags {
  config?: string;
  db?: string;
  cert?: string;
  notaryCert?: string;
  notary?: string;
  upstreamCert?: string;
  device: string;
  seq: string;
  out: string;
}

function der(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(new X509Certificate(readFileSync(path)).raw);
  } catch (err) {
    throw new MedchainError(
      'CLI_INPUT',
      `cannot read the ${what} ${path}: ${(err as Error).message}`,
    );
  }
}

function anchorSource(url: string, upstreamCert: Uint8Array): AnchorSource {
  if (!URL.canParse(url)) throw new MedchainError('CLI_USAGE', `--notary: not a URL: ${url}`);
  return (height) => fetchAnchor(url, height, upstreamCert);
}

async function run(o: Flags): Promise<void> {
  const cfg = o.config ? loadConfig(o.config) : undefined;
  const db = o.db ?? cfg?.db;
  const gatewayCert = o.cert ?? cfg?.certificate;
  const notaryCert = o.notaryCert ?? cfg?.notary.certificate;
  if (!db || !gatewayCert || !notaryCert) {
    throw new MedchainError(
      'CLI_USAGE',
      'give --config GATEWAY.json, or --db, --cert (gateway signing certificate) and --notary-cert',
    );
  }
  const seq = Number.parseInt(o.seq, 10);
  if (!Number.isSafeInteger(seq) || seq < 0)
    throw new MedchainError('CLI_USAGE', '--seq: a reading sequence number');
  if ((o.notary === undefined) !== (o.upstreamCert === undefined)) {
    throw new MedchainError(
      'CLI_USAGE',
      "--notary and --upstream-cert go together: the notary's HTTP API and the regional notary's signing certificate",
    );
  }
  const anchorOf =
    o.notary !== undefined && o.upstreamCert !== undefined
      ? anchorSource(o.notary, der(o.upstreamCert, 'regional notary certificate'))
      : undefined;
  const spool = await Spool.open(db);
  try {
    const proof = await buildReadingProof(
      spool,
      o.device,
      seq,
      {
        gateway: der(gatewayCert, 'gateway certificate'),
        notary: der(notaryCert, 'notary certificate'),
      },
      anchorOf,
    );
    await writeFile(o.out, proof, { flag: 'wx' });
    process.stdout.write(
      `proof of ${o.device}#${seq} written to ${o.out} (${proof.length} bytes); check it with: medchain verify-proof ${o.out} --root ROOT.pem\n`,
    );
  } finally {
    await spool.close();
  }
}

export function proveCommand(): Command {
  return new Command('prove')
    .description(
      "prove one reading from a gateway's database: reading, salt, Merkle path, signed header, receipt, regional anchor",
    )
    .option('--config <file>', 'gateway config (gives --db, --cert and --notary-cert)')
    .option('--db <file>', 'gateway database')
    .option('--cert <pem>', "the gateway's signing certificate")
    .option('--notary-cert <pem>', "the notary's signing certificate")
    .option(
      '--notary <url>',
      "the notary's HTTP API: include the regional anchor covering the reading (needs --upstream-cert)",
    )
    .option('--upstream-cert <pem>', "the regional notary's signing certificate")
    .requiredOption('--device <id>', 'device id')
    .requiredOption('--seq <n>', "the reading's sequence number")
    .requiredOption('--out <file>', 'proof output (must not exist)')
    .action((o: Flags) => run(o));
}
