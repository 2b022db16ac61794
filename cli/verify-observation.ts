/**
 * medchain verify-proof --observation ID --fhir DIR --root ROOT.pem: from an Observation
 * of a Bulk Data export to the reading proofs of the readings it carries (its
 * Provenance's entities, Binary resources of the same export), each verified offline
 * with Trent's root; then the Observation is rebuilt from the proven readings and must
 * say the same (docs/FHIR.md "Checking a value").
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { decodeReading } from '../core/reading-decode.js';
import type { CertificateResolver } from '../core/reading-proof.js';
import { verifyReadingProof } from '../core/reading-proof.js';
import { SID } from '../fhir/canonical.js';
import { FhirCode, FhirError } from '../fhir/errors.js';
import { readingIdOf } from '../fhir/ids.js';
import type { SealedReading } from '../fhir/observation.js';
import { compareWithProven } from '../fhir/rebuild.js';

type Json = Record<string, unknown>;
interface Ref {
  reference?: string;
  identifier?: { system?: string; value?: string };
}

/** Lines of one NDJSON file of the export, parsed, stopping when `take` says so. */
async function scan(dir: string, type: string, take: (r: Json) => boolean): Promise<void> {
  const path = join(dir, `${type}.ndjson`);
  const stream = createReadStream(path, 'utf8');
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  try {
    for await (const line of lines) {
      n += 1;
      if (line === '') continue;
      let r: Json;
      try {
        r = JSON.parse(line) as Json;
      } catch {
        throw new FhirError(FhirCode.BadBulk, `${path} line ${n} is not JSON`);
      }
      if (take(r)) break;
    }
  } catch (err) {
    if (err instanceof FhirError) throw err;
    throw new FhirError(FhirCode.BadBulk, `cannot read ${path}: ${(err as Error).message}`);
  } finally {
    lines.close();
    stream.destroy();
  }
}

export type ObservationVerdict =
  | { ok: true; observation: string; readings: { id: string; notary: string; height: number }[] }
  | { ok: false; observation: string; check: string; detail: string };

export async function verifyObservation(
  dir: string,
  id: string,
  resolver: CertificateResolver,
): Promise<ObservationVerdict> {
  const fail = (check: string, detail: string): ObservationVerdict => ({
    ok: false,
    observation: id,
    check,
    detail,
  });
  let obs: Json | undefined;
  await scan(dir, 'Observation', (r) => {
    if (r.id === id) obs = r;
    return obs !== undefined;
  });
  if (obs === undefined) {
    throw new FhirError(FhirCode.NoObservation, `no Observation with id ${id} in ${dir}`);
  }
  const ids = ((obs.identifier as Ref['identifier'][] | undefined) ?? [])
    .filter((i) => i?.system === SID.reading && typeof i.value === 'string')
    .map((i) => i?.value as string);
  if (ids.length === 0) return fail('identifier', 'the Observation names no medchain reading');
  // Reading id → Binary id of its proof, from the Provenances that target the Observation.
  const proofOf = new Map<string, string>();
  await scan(dir, 'Provenance', (p) => {
    const targets = (p.target as Ref[] | undefined) ?? [];
    if (!targets.some((t) => t.reference === `Observation/${id}`)) return false;
    for (const e of (p.entity as { what?: Ref }[] | undefined) ?? []) {
      const w = e.what;
      const rid = w?.identifier?.system === SID.reading ? w.identifier.value : undefined;
      if (rid !== undefined && ids.includes(rid) && w?.reference?.startsWith('Binary/')) {
        proofOf.set(rid, w.reference.slice('Binary/'.length));
      }
    }
    return false;
  });
  const wanted = new Set(proofOf.values());
  const bytes = new Map<string, Uint8Array>();
  await scan(dir, 'Binary', (b) => {
    if (typeof b.id === 'string' && wanted.has(b.id) && typeof b.data === 'string') {
      bytes.set(b.id, new Uint8Array(Buffer.from(b.data, 'base64')));
    }
    return bytes.size === wanted.size;
  });
  const judge = memo(resolver);
  const proven: SealedReading[] = [];
  for (const rid of ids) {
    const binary = proofOf.get(rid);
    const proof = binary === undefined ? undefined : bytes.get(binary);
    if (proof === undefined)
      return fail('no-proof', `no Provenance of this export carries a reading proof of ${rid}`);
    const v = await verifyReadingProof(proof, judge);
    if (!v.ok) return fail(v.check, `reading ${rid}: ${v.detail}`);
    const d = decodeReading(v.reading, { format: 'cbor' });
    if (!d.ok) return fail('record', `reading ${rid}: ${d.error.message}`);
    const reading = d.value.reading;
    if (readingIdOf(reading) !== rid) {
      return fail('reading-identity', `the proof listed for ${rid} proves ${readingIdOf(reading)}`);
    }
    proven.push({ reading, receivedAt: v.receivedAt, notaryId: v.notaryId, height: v.height });
  }
  const same = compareWithProven(obs, proven);
  if (!same.ok) return fail('observation-value', `${same.element}: ${same.detail}`);
  return {
    ok: true,
    observation: id,
    readings: proven.map((s) => ({
      id: readingIdOf(s.reading),
      notary: s.notaryId,
      height: s.height,
    })),
  };
}

/**
 * The readings of one Observation share their gateway's and notary's certificates, each
 * judged at one of a few registration times: judge each combination once.
 */
function memo(resolver: CertificateResolver): CertificateResolver {
  const seen = new Map<string, ReturnType<CertificateResolver>>();
  return (der, role, id, at) => {
    const key = `${Buffer.from(der).toString('base64')} ${role} ${id} ${at}`;
    let v = seen.get(key);
    if (v === undefined) {
      v = resolver(der, role, id, at);
      seen.set(key, v);
    }
    return v;
  };
}
