/**
 * medchain export --in CHAIN.cbor --reader-id ID (--reader-key KEY.pem | --token T --key K)
 *                 --format fhir [--out FILE.ndjson] [--root ROOT.pem]
 * An authorised reader's FHIR R4 export of a notary chain export (docs/FHIR.md).
 */
import { readFileSync } from 'node:fs';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { BrokerError } from '../broker/errors.js';
import { type ExportItem, readExport } from '../broker/export.js';
import { verifyExport } from '../broker/export-verify.js';
import type { ReaderKey } from '../core/body.js';
import { DetCborError } from '../core/det-cbor.js';
import { MedchainError } from '../core/errors.js';
import { ReaderExport } from '../fhir/blocks.js';
import { FhirCode, FhirError } from '../fhir/errors.js';
import { ndjsonLine } from '../fhir/ndjson.js';
import type { MappingOptions } from '../fhir/observation.js';
import { USER_PIN_ENV } from '../hsm/pin.js';
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

/** stdout, or a new file that is removed again if the export fails half way. */
async function output(path: string | undefined) {
  let fh: FileHandle | undefined;
  if (path !== undefined && path !== '-') {
    try {
      fh = await open(path, 'wx', 0o600);
    } catch (err) {
      throw new MedchainError('CLI_OUTPUT', `cannot create ${path}: ${(err as Error).message}`);
    }
  }
  return {
    write: async (text: string) => {
      if (fh) await fh.write(text);
      else if (!process.stdout.write(text))
        await new Promise((resolve) => process.stdout.once('drain', resolve));
    },
    close: async (ok: boolean) => {
      if (!fh || path === undefined) return;
      if (ok) await fh.sync();
      await fh.close();
      if (!ok) await unlink(path);
    },
  };
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
  const exporter = new ReaderExport(reader, first.value.notaryId, opts);
  const out = await output(o.out);
  let ok = false;
  try {
    for (const item of items) {
      if (item.kind !== 'entry') continue;
      const obs = await exporter.block({ ...item, erased: item.erased !== undefined });
      if (obs.length > 0) await out.write(obs.map(ndjsonLine).join(''));
    }
    const stats = exporter.finish();
    ok = true;
    const summary = `${JSON.stringify({ ok: true, notaryId: first.value.notaryId, out: o.out ?? '-', ...stats })}\n`;
    // The summary never mixes with NDJSON on stdout.
    (o.out === undefined || o.out === '-' ? process.stderr : process.stdout).write(summary);
  } finally {
    await out.close(ok);
  }
}

function mappingOptions(o: Flags): MappingOptions {
  const skew = o.maxClockSkewMs === undefined ? undefined : Number(o.maxClockSkewMs);
  if (skew !== undefined && (!Number.isSafeInteger(skew) || skew < 0)) {
    throw usage('--max-clock-skew-ms: a whole number of milliseconds, 0 or more');
  }
  return {
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
      'decrypt a chain export as an authorised reader and write its readings as FHIR R4 Observations (NDJSON)',
    )
    .requiredOption('--in <file>', 'chain export (medchain notary export)')
    .addOption(new Option('--format <format>', 'output format').choices(['fhir']).default('fhir'))
    .option('--out <file>', 'NDJSON output, must not exist (default or -: stdout)')
    .option('--reader-id <id>', 'the reader id (kid) the blocks are sealed for')
    .option('--reader-key <pem>', 'reader private key (P-256, PEM)')
    .option('--token <label>', 'token holding the reader key')
    .option('--key <label>', 'label of the reader key on the token')
    .option('--pin-file <file>', `file holding the token user PIN (default: $${USER_PIN_ENV})`)
    .option('--module <path>', 'PKCS#11 library')
    .option('--root <pem>', "Trent's root: verify the whole export (signatures, chain) first")
    .option('--patient-system <uri>', 'identifier system of patient references')
    .option('--max-clock-skew-ms <n>', 'flag readings whose device clock is off by more')
    .action((o: Flags) => action(o));
}
