import { type CodeEntry, codeByMdc } from '../core/codes.js';

/**
 * The FHIR side of core's code table (core/codes.ts): code systems, categories, unit
 * display text and the one panel medchain readings form. Sources for the panel: the
 * FHIR R4 vital-signs blood pressure profile (LOINC 85354-9 with 8480-6/8462-4
 * components) and IEEE 11073-10101 MDC_PRESS_BLD_NONINV (partition 2, term 18948).
 */

export const LOINC = 'http://loinc.org';
export const MDC = 'urn:iso:std:iso:11073:10101';
export const UCUM = 'http://unitsofmeasure.org';
export const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

export type Category = 'vital-signs' | 'laboratory';
export const CATEGORY_DISPLAY: Record<Category, string> = {
  'vital-signs': 'Vital Signs',
  laboratory: 'Laboratory',
};

/** Capillary glucose is a point-of-care laboratory test, not a vital sign. */
const LABORATORY_MDC: ReadonlySet<number> = new Set([160184]);

export function categoryOf(mdc: number): Category {
  return LABORATORY_MDC.has(mdc) ? 'laboratory' : 'vital-signs';
}

/** Human-readable unit text for Quantity.unit; Quantity.code is always the UCUM code. */
const UNIT_DISPLAY: Readonly<Record<string, string>> = {
  '%': '%',
  '/min': 'beats/minute',
  'mm[Hg]': 'mmHg',
  Cel: '°C',
  'mg/dL': 'mg/dL',
  'mmol/L': 'mmol/L',
  mV: 'mV',
};

export function unitDisplay(ucum: string): string {
  return UNIT_DISPLAY[ucum] ?? ucum;
}

export interface Coding {
  readonly system: string;
  readonly code: string;
  readonly display?: string;
}

export interface Concept {
  readonly coding: readonly Coding[];
  readonly text: string;
}

/** LOINC codings first (what FHIR profiles key on), then the MDC coding. */
export function conceptOf(entry: CodeEntry, ucum: string): Concept {
  const unitLoinc = entry.units.find((u) => u.ucum === ucum)?.loinc;
  const loinc = unitLoinc !== undefined ? [unitLoinc] : [entry.loinc, ...(entry.loincAlso ?? [])];
  const coding: Coding[] = [];
  for (const code of loinc) if (code !== undefined) coding.push({ system: LOINC, code });
  coding.push({ system: MDC, code: String(entry.mdc), display: entry.refId });
  return { coding, text: entry.display };
}

const NIBP_SYS = 150021;
const NIBP_DIA = 150022;
const NIBP_MEAN = 150023;

/** The blood pressure panel: its own code, the readings' values become components. */
export const BP_PANEL: Concept = {
  coding: [
    { system: LOINC, code: '85354-9' },
    { system: MDC, code: '150020', display: 'MDC_PRESS_BLD_NONINV' },
  ],
  text: 'Blood pressure, non-invasive',
};

/** Systolic and diastolic, optionally mean, nothing else: the NIBP cuff's reading. */
export function isBloodPressurePanel(codes: readonly number[]): boolean {
  const set = new Set(codes);
  return (
    set.size === codes.length &&
    set.has(NIBP_SYS) &&
    set.has(NIBP_DIA) &&
    [...set].every((c) => c === NIBP_SYS || c === NIBP_DIA || c === NIBP_MEAN)
  );
}

/** The table entry of a code a decoded reading carries (decodeReading checked it exists). */
export function entryOf(mdc: number): CodeEntry {
  const e = codeByMdc(mdc);
  if (e === undefined) throw new TypeError(`code ${mdc} is not in core/codes.ts`);
  return e;
}
