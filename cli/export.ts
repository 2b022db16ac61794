/**
 * medchain export --in CHAIN.cbor --reader-id ID (--reader-key KEY.pem | --token T --key K)
 *                 --format fhir [--out DIR] [--root ROOT.pem]
 * An authorised reader's FHIR R4 export of a notary chain export, as a Bulk Data
 * directory or one NDJSON stream (docs/FHIR.md).
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { BrokerError } from '../broker/errors.js';
import { type ExportItem, readExport } from '../broker/export.js';
import { verifyExport } from '../broker/export-verify.js';
import type { ReaderKey } from '../core/body.js';
import { DetCborError } from '../core/det-cbor.js';
import { MedchainError } from '../errors/medchain-error.js';
import { ReaderExport } from '../fhir/blocks.js';
import { BulkExport } from '../fhir/bulk.js';
import { FhirCode, FhirError } from '../fhir/errors.js';
import { DEFAULT_STRIP_MS, type MappingOptions } from '../fhir/observation.js';
import { ProofMaker } from '../fhir/proofs.js';
import { USER_PIN_ENV } from '../hsm/pin.js';
import { writeBulkDir, writeStdout } from './export-dir.js';
import { type TokenFlags, withToken } from './hsm.js';
import { readerKeyFromPem, readerKeyOnToken } from './reader-key.js';

interface Flags {
  in: string;
  format: 'fhir';
  out?: string;
  readerId?: string;
  readerKey?: string;
  token?: string;
  key?: string;
  pinFile?: string;
  module?: string;
  root?: string;
  patientSystem?: string;
  maxClockSkewMs?: string;
  stripSeconds?: string;
}

const usage = (msg: string) => new MedchainError('CLI_USAGE', msg);

function readInput(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new MedchainError(
      'CLI_INPUT',
      `cannot read the ${what} ${path}: ${(err as Error).message}`,
    );
  }
}

/** The export's items; a file that is not a chain export is the reader's input error. */
function* exportItems(bytes: Uint8Array): Generator<ExportItem> {
  try {
    yield* readExport(bytes);
  } catch (err) {
    if (!(err instanceof BrokerError || err instanceof DetCborError)) throw err;
    throw new FhirError(FhirCode.BadExport, `not a chain export: ${err.message}`, { cause: err });
  }
}

async function run(o: Flags, reader: ReaderKey, opts: MappingOptions): Promise<void> {
  const bytes = new Uint8Array(readInput(o.in, 'chain export'));
  if (o.root !== undefined) {
    const v = await verifyExport(bytes, { root: readInput(o.root, 'root certificate') });
    if (!v.ok) {
      throw new FhirError(
        FhirCode.ExportInvalid,
        `the export does not verify: ${v.check} at height ${v.height ?? '-'}: ${v.detail}`,
        v.height === undefined ? {} : { height: v.height },
      );
    }
  }
  const items = exportItems(bytes);
  const first = items.next();
  if (first.done || first.value.kind !== 'header') {
    throw new FhirError(FhirCode.BadExport, `${o.in} does not start with a chain export header`);
  }
  const { notaryId, exportedAt } = first.value;
  const reader_ = new ReaderExport(reader, notaryId);
  const proofs = new ProofMaker();
  const bulk = new BulkExport(proofs, opts);
  for (const item of items) {
    if (item.kind === 'certificate') proofs.addCertificate(item.der);
    if (item.kind !== 'entry') continue;
    const opened = await reader_.block({ ...item, erased: item.erased !== undefined });
    if (opened !== undefined) bulk.add(opened);
  }
  const stats = reader_.finish();
  const resources = bulk.finish();
  const toStdout = o.out === undefined || o.out === '-';
  if (toStdout) await writeStdout(resources);
  else
    await writeBulkDir(
      o.out ?? '',
      resources,
      exportedAt,
      `medchain export --format fhir --in ${o.in}`,
    );
  const counts = Object.fromEntries([...resources].map(([type, list]) => [type, list.length]));
  const summary = {
    ok: true,
    notaryId,
    out: o.out ?? '-',
    ...stats,
    observations: bulk.observations,
    clockSkewed: bulk.clockSkewed,
    resources: counts,
  };
  // The summary never mixes with NDJSON on stdout.
  (toStdout ? process.stderr : process.stdout).write(`${JSON.stringify(summary)}\n`);
}

function mappingOptions(o: Flags): MappingOptions {
  const skew = o.maxClockSkewMs === undefined ? undefined : Number(o.maxClockSkewMs);
  if (skew !== undefined && (!Number.isSafeInteger(skew) || skew < 0)) {
    throw usage('--max-clock-skew-ms: a whole number of milliseconds, 0 or more');
  }
  const strip = o.stripSeconds === undefined ? undefined : Number(o.stripSeconds);
  if (strip !== undefined && (!Number.isSafeInteger(strip) || strip < 1 || strip > 3600)) {
    throw usage('--strip-seconds: a whole number of seconds, 1 to 3600');
  }
  return {
    stripMs: strip === undefined ? DEFAULT_STRIP_MS : strip * 1000,
    ...(skew === undefined ? {} : { maxClockSkewMs: skew }),
    ...(o.patientSystem === undefined ? {} : { patientSystem: o.patientSystem }),
  };
}

async function action(o: Flags): Promise<void> {
  const opts = mappingOptions(o);
  if (o.readerKey === undefined && o.token === undefined) {
    throw new FhirError(
      FhirCode.NoReaderKey,
      "block bodies are encrypted for their readers: give the reader's private key (--reader-key KEY.pem, or --token LABEL --key LABEL for a key on a token)",
    );
  }
  if (o.readerKey !== undefined && o.token !== undefined)
    throw usage('give either --reader-key or --token/--key, not both');
  if (o.readerId === undefined)
    throw usage('--reader-id: the reader id the gateways seal for (the id in its certificate)');
  const kid = o.readerId;
  if (o.readerKey !== undefined) return run(o, readerKeyFromPem(o.readerKey, kid), opts);
  const { token, key } = o;
  if (token === undefined || key === undefined)
    throw usage('--key: the label of the reader key on the token');
  const flags: TokenFlags = {
    token,
    ...(o.module === undefined ? {} : { module: o.module }),
    ...(o.pinFile === undefined ? {} : { pinFile: o.pinFile }),
  };
  return withToken(flags, (t) => run(o, readerKeyOnToken(t, key, kid), opts));
}

export function exportCommand(): Command {
  return new Command('export')
    .description(
      'decrypt a chain export as an authorised reader and write it as FHIR R4 (Bulk Data directory or NDJSON)',
    )
    .requiredOption('--in <file>', 'chain export (medchain notary export)')
    .addOption(new Option('--format <format>', 'output format').choices(['fhir']).default('fhir'))
    .option(
      '--out <dir>',
      'Bulk Data directory (one NDJSON per resource type + manifest.json), must not exist (default or -: one NDJSON stream on stdout)',
    )
    .option('--reader-id <id>', 'the reader id (kid) the blocks are sealed for')
    .option('--reader-key <pem>', 'reader private key (P-256, PEM)')
    .option('--token <label>', 'token holding the reader key')
    .option('--key <label>', 'label of the reader key on the token')
    .option('--pin-file <file>', `file holding the token user PIN (default: $${USER_PIN_ENV})`)
    .option('--module <path>', 'PKCS#11 library')
    .option('--root <pem>', "Trent's root: verify the whole export (signatures, chain) first")
    .option('--patient-system <uri>', 'identifier system of patient references')
    .option('--max-clock-skew-ms <n>', 'flag readings whose device clock is off by more')
    .option(
      '--strip-seconds <n>',
      'length of an ECG strip Observation',
      String(DEFAULT_STRIP_MS / 1000),
    )
    .action((o: Flags) => action(o));
}
