import { type CodeEntry, codeByMdc } from '../core/codes.js';
import { PROFILE } from './canonical.js';

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
/** MDC_PRESS_BLD_NONINV: the blood pressure panel. */
export const BP_PANEL_MDC = 150020;

export type Category = 'vital-signs' | 'laboratory' | 'procedure';
export const CATEGORY_DISPLAY: Record<Category, string> = {
  'vital-signs': 'Vital Signs',
  laboratory: 'Laboratory',
  procedure: 'Procedure',
};

/**
 * Capillary glucose is a point-of-care laboratory test, not a vital sign; an ECG
 * waveform is the record of a procedure (the R4 vital-signs profiles cover neither).
 */
const CATEGORY_BY_MDC: ReadonlyMap<number, Category> = new Map([
  [160184, 'laboratory'],
  [131330, 'procedure'],
]);

export function categoryOf(mdc: number): Category {
  return CATEGORY_BY_MDC.get(mdc) ?? 'vital-signs';
}

/** The R4 vital-signs profile an Observation of this code conforms to, if any. */
const PROFILE_BY_MDC: ReadonlyMap<number, string> = new Map([
  [150456, PROFILE.oxygenSat],
  [149530, PROFILE.heartRate],
  [147842, PROFILE.heartRate],
  [150364, PROFILE.bodyTemp],
  [BP_PANEL_MDC, PROFILE.bp],
]);

export function profileOf(mdc: number): string | undefined {
  return PROFILE_BY_MDC.get(mdc);
}

/**
 * "EKG study": the LOINC code HL7 examples give an ECG recording, written beside the
 * MDC lead code of a strip so a LOINC-keyed flowsheet finds it.
 */
export const ECG_LOINC: Coding = {
  system: 'http://loinc.org',
  code: '11524-6',
  display: 'EKG study',
};

/**
 * Device types as the Personal Health Device IG gives them: the IEEE 11073-104xx
 * specialization (MDC_DEV_SPEC_PROFILE_*, partition 8: 528384 + specialization − 10400),
 * chosen by the first code a device sends.
 */
export const DEVICE_TYPE_BY_MDC: ReadonlyMap<number, Coding> = new Map(
  (
    [
      [[150456, 149530], 528388, 'MDC_DEV_SPEC_PROFILE_PULS_OXIM'],
      [[131330, 147842], 528390, 'MDC_DEV_SPEC_PROFILE_ECG'],
      [[150021, 150022, 150023], 528391, 'MDC_DEV_SPEC_PROFILE_BPM'],
      [[150364], 528392, 'MDC_DEV_SPEC_PROFILE_TEMP'],
      [[160184], 528401, 'MDC_DEV_SPEC_PROFILE_GLUCOSE'],
    ] as const
  ).flatMap(([codes, code, display]) =>
    codes.map((c): [number, Coding] => [c, { system: MDC, code: String(code), display }]),
  ),
);

/** The gateway: an application hosting device (MDC_MOC_VMS_MDS_AHD) in the PHD IG's terms. */
export const GATEWAY_TYPE: Coding = { system: MDC, code: '531981', display: 'MDC_MOC_VMS_MDS_AHD' };

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
