import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { proofResolver } from '../ca/proof-resolver.js';
import { codeByMdc } from '../core/codes.js';
import { formatDecimal } from '../core/decimal.js';
import { decodeReading } from '../core/reading-decode.js';
import { verifyReadingProof } from '../core/reading-proof.js';
import { MedchainError } from '../errors/medchain-error.js';
import { verifyObservation } from './verify-observation.js';

interface Flags {
  root: string;
  crl?: string;
  skewMs: string;
  json?: boolean;
  observation?: string;
  fhir?: string;
}

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new MedchainError(
      'CLI_INPUT',
      `cannot read the ${what} ${path}: ${(err as Error).message}`,
    );
  }
}

async function run(proofPath: string | undefined, o: Flags): Promise<void> {
  const skewMs = Number.parseInt(o.skewMs, 10);
  if (!Number.isSafeInteger(skewMs) || skewMs < 0) {
    throw new MedchainError('CLI_USAGE', '--skew-ms: a whole number of milliseconds, 0 or more');
  }
  if (
    (proofPath === undefined) === (o.observation === undefined) ||
    (o.observation === undefined) !== (o.fhir === undefined)
  ) {
    throw new MedchainError(
      'CLI_USAGE',
      'give a proof file, or --observation ID with --fhir DIR (a medchain FHIR export)',
    );
  }
  const root = await readInput(o.root, 'root certificate');
  const crl = o.crl === undefined ? undefined : await readInput(o.crl, 'CRL');
  const resolver = proofResolver({
    root: root.toString('utf8'),
    crl: crl?.toString('utf8'),
    skewMs,
  });
  if (o.observation !== undefined && o.fhir !== undefined) {
    const v = await verifyObservation(o.fhir, o.observation, resolver);
    if (o.json) process.stdout.write(`${JSON.stringify(v)}\n`);
    else if (v.ok) {
      const rs = v.readings.map((x) => `${x.id} (${x.notary} height ${x.height})`).join(', ');
      process.stdout.write(
        `OK observation ${v.observation}: says what the proven readings say: ${rs}\n`,
      );
    } else process.stdout.write(`FAIL ${v.check}: ${v.detail}\n`);
    if (!v.ok) process.exitCode = 1;
    return;
  }
  const proof = await readInput(proofPath ?? '', 'proof');
  const r = await verifyReadingProof(new Uint8Array(proof), resolver);
  if (!r.ok) {
    if (o.json)
      process.stdout.write(`${JSON.stringify({ ok: false, check: r.check, detail: r.detail })}\n`);
    else process.stdout.write(`FAIL ${r.check}: ${r.detail}\n`);
    process.exitCode = 1;
    return;
  }
  // Structure only: the reading was valid when sealed; today's plausibility table must not veto it.
  const d = decodeReading(r.reading, { format: 'cbor' });
  const reading = d.ok ? d.value.reading : undefined;
  const observations = (reading?.observations ?? []).map((ob) => {
    const name = codeByMdc(ob.code)?.refId ?? String(ob.code);
    return ob.kind === 'numeric'
      ? { code: name, value: formatDecimal(ob.value), unit: ob.unit }
      : { code: name, samples: ob.samples.length, periodUs: ob.periodUs, unit: ob.unit };
  });
  const summary = {
    ok: true,
    deviceId: reading?.deviceId,
    seq: reading?.seq,
    deviceTime: reading ? new Date(reading.deviceTime).toISOString() : undefined,
    receivedAt: new Date(r.receivedAt).toISOString(),
    patient: reading?.patient,
    observations,
    gateway: r.gatewayId,
    gatewaySeq: r.gatewaySeq,
    notary: r.notaryId,
    height: r.height,
    anchor: r.anchor ?? null,
  };
  if (o.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  process.stdout.write(
    `OK reading ${summary.deviceId}#${summary.seq} at ${summary.deviceTime} (patient ${summary.patient}), ` +
      `sealed by ${r.gatewayId} in block ${r.gatewaySeq}, registered by ${r.notaryId} at height ${r.height}\n`,
  );
  process.stdout.write(
    r.anchor
      ? `  anchored: ${r.notaryId}'s checkpoint of size ${r.anchor.size} registered by ${r.anchor.notaryId} at height ${r.anchor.height}\n`
      : `  not anchored: the proof carries no upstream receipt; ${r.notaryId}'s receipt alone vouches for it\n`,
  );
  for (const ob of observations) {
    process.stdout.write(
      `  ${ob.code} ${'value' in ob ? `${ob.value} ${ob.unit}` : `${ob.samples} samples`}\n`,
    );
  }
}

export function verifyProofCommand(): Command {
  return new Command('verify-proof')
    .description(
      "verify a reading proof offline against Trent's root certificate; exit 1 if it fails",
    )
    .argument('[proof]', 'reading proof file (medchain prove)')
    .requiredOption('--root <pem>', "Trent's root certificate")
    .option(
      '--crl <pem>',
      "Trent's CRL (revocations after the notary's registration time do not count)",
    )
    .option('--skew-ms <ms>', 'clock skew allowed on certificate validity', '300000')
    .option('--json', 'print the result as JSON')
    .option(
      '--observation <id>',
      'instead of a proof file: an Observation of a FHIR export (needs --fhir)',
    )
    .option('--fhir <dir>', 'the Bulk Data directory of `medchain export --format fhir`')
    .action((proof: string | undefined, o: Flags) => run(proof, o));
}
