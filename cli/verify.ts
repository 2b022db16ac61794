/**
 * medchain verify EXPORT --root ca.pem [--upstream EXPORT2 ...] [--crl CRL ...]
 *                [--checkpoint CP ...] [--json]
 *
 * The auditor's command: verifies a chain export offline (broker/export-verify.ts) and
 * prints OK with counts, or the first bad height and the reason. Exit 0 verified,
 * 1 failed verification, 2 unusable input (missing file, bad flag).
 */
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { type ExportVerifyResult, verifyExport } from '../broker/export-verify.js';
import { MedchainError } from '../errors/medchain-error.js';

interface Flags {
  root: string;
  upstream?: string[];
  crl?: string[];
  checkpoint?: string[];
  skewMs: string;
  json?: boolean;
}

async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    throw new MedchainError(
      'CLI_INPUT',
      `cannot read the ${what} ${path}: ${(err as Error).message}`,
    );
  }
}

/** One line for a person; the JSON form carries every field. */
function describe(v: ExportVerifyResult): string {
  if (!v.ok) {
    const at = v.height === undefined ? '' : ` at height ${v.height}`;
    const ev = v.expected === undefined ? '' : ` (expected ${v.expected}, got ${v.actual ?? '?'})`;
    return `FAIL${at}: ${v.check}: ${v.detail}${ev}`;
  }
  const a = v.anchors;
  const revocation = v.revocationChecked
    ? `${v.crls} CRL${v.crls === 1 ? '' : 's'}, revocation checked`
    : 'no CRL, revocation NOT checked';
  const anchors =
    a.upstream.length > 0
      ? `${a.count} anchors, ${a.followed} followed into ${a.upstream.join(', ')}: heights 1..${a.coveredHeights} of ${v.size} covered`
      : `${a.count} anchors (${a.receipted} receipted, highest anchored size ${a.highestAnchoredSize}; give --upstream to follow them)`;
  return (
    `OK ${v.notaryId}: ${v.size} entries (${v.erased.length} erased, ${v.unreceipted.length} without receipt), ` +
    `${v.checkpoints} checkpoints (the last at ${v.size}), ${v.equivocations} equivocations, ${revocation}; ${anchors}` +
    (v.heldCheckpoint > 0
      ? `; reaches the checkpoint of size ${v.heldCheckpoint} held elsewhere`
      : '')
  );
}

async function run(exportPath: string, o: Flags): Promise<void> {
  const skewMs = Number.parseInt(o.skewMs, 10);
  if (!Number.isSafeInteger(skewMs) || skewMs < 0) {
    throw new MedchainError('CLI_USAGE', '--skew-ms: a whole number of milliseconds, 0 or more');
  }
  const bytes = await readInput(exportPath, 'export');
  const root = await readInput(o.root, 'root certificate');
  const crls = await Promise.all((o.crl ?? []).map((f) => readInput(f, 'CRL')));
  const upstream = await Promise.all(
    (o.upstream ?? []).map((f) => readInput(f, 'upstream export')),
  );
  const checkpoints = await Promise.all(
    (o.checkpoint ?? []).map((f) => readInput(f, 'checkpoint')),
  );
  const v = await verifyExport(bytes, {
    checkpoints,
    root: Buffer.from(root).toString('utf8'),
    // A PEM CRL is parsed as text, a DER one as bytes.
    crls: crls.map((c) => (c[0] === 0x30 ? c : Buffer.from(c).toString('utf8'))),
    upstream,
    skewMs,
  });
  process.stdout.write(`${o.json ? JSON.stringify(v) : describe(v)}\n`);
  if (!v.ok) process.exitCode = 1;
}

export function verifyCommand(): Command {
  return new Command('verify')
    .description(
      "verify a chain export offline with Trent's root alone; prints OK with counts or the first bad height (exit 1)",
    )
    .argument('<export>', 'chain export (medchain notary export)')
    .requiredOption('--root <pem>', "Trent's root certificate, obtained independently")
    .option(
      '--upstream <export...>',
      "the upstream (regional) notary's export: follow this chain's anchors into it",
    )
    .option('--crl <file...>', "Trent's CRLs (PEM or DER) besides those carried in the export")
    .option(
      '--checkpoint <file...>',
      "signed checkpoints of this notary held elsewhere (a replica's, a witness's; COSE bytes): the export must reach them",
    )
    .option('--skew-ms <ms>', 'clock skew allowed on certificate validity', '300000')
    .option('--json', 'print the result as JSON')
    .action((file: string, o: Flags) => run(file, o));
}
