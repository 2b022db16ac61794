import { isDeepStrictEqual } from 'node:util';
import { ndjsonLine } from './ndjson.js';
import { numericObservations, type SealedReading } from './observation.js';
import { StripBuilder } from './strip.js';

/**
 * "Is this value the one the device sent?": rebuild an Observation from the readings
 * its reading proofs carry and compare what a clinician reads in it. Pure. The proofs
 * are verified by the caller first (core/reading-proof.ts); this only says whether the
 * exported Observation says what they prove.
 */

/** The elements compared: everything a reading determines, nothing an option does. */
const COMPARED = [
  'identifier',
  'category',
  'code',
  'subject',
  'device',
  'effectiveDateTime',
  'issued',
  'valueQuantity',
  'valueSampledData',
  'component',
] as const;

export type RebuildResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly element: string; readonly detail: string };

/**
 * `exported` is the Observation as parsed from the export; `readings` are the proven
 * readings it names, in its identifier order.
 */
export function compareWithProven(
  exported: Record<string, unknown>,
  readings: readonly SealedReading[],
): RebuildResult {
  // One strip of every frame given: the export cut strips only at gaps or at the strip length.
  const strips = new StripBuilder({ stripMs: Math.floor(Number.MAX_SAFE_INTEGER / 1000) });
  const rebuilt = [
    ...readings.flatMap((s) => [...numericObservations(s), ...strips.add(s)]),
    ...strips.finish(),
  ].find((m) => m.observation.id === exported.id);
  if (rebuilt === undefined) {
    return {
      ok: false,
      element: 'id',
      detail: `no Observation with id ${String(exported.id)} follows from the proven readings`,
    };
  }
  // Through the same serialiser and parser as the exported line, so decimals compare alike.
  const fresh = JSON.parse(ndjsonLine(rebuilt.observation)) as Record<string, unknown>;
  for (const element of COMPARED) {
    if (!isDeepStrictEqual(exported[element], fresh[element])) {
      return {
        ok: false,
        element,
        detail: `exported ${JSON.stringify(exported[element])?.slice(0, 200)}, the proven readings give ${JSON.stringify(fresh[element])?.slice(0, 200)}`,
      };
    }
  }
  return { ok: true };
}
