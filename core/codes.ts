import { type Decimal, dec } from './decimal.js';

/**
 * The observation codes medchain accepts: IEEE 11073-10101 (MDC) terms of partition 2
 * (SCADA), numeric code = 2 × 65536 + term code, with the LOINC equivalent where one
 * exists, UCUM units and a physiologically plausible range. A value outside its range is
 * rejected ('out-of-range'): the range refuses impossible values, it is not an alarm limit.
 *
 * Sources checked (term codes, then the 32-bit code as FHIR carries it, system
 * urn:iso:std:iso:11073:10101):
 * - Freescale 11073 NomenclatureCodes.h (cdealti/zigbee_firmware, .../HC/NomenclatureCodes.h)
 *   and Signove Antidote nomenclature.h: MDC_PART_SCADA = 2; MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD
 *   29112 → 160184 (also in FHIR PHD DeviceMetric examples: "160184").
 * - IEEE 11073 term tables as transcribed in public PHD code: MDC_PULS_OXIM_SAT_O2 19384,
 *   MDC_PULS_OXIM_PULS_RATE 18458, MDC_PRESS_BLD_NONINV_SYS/DIA/MEAN 18949/18950/18951,
 *   MDC_TEMP_BODY 19292, MDC_ECG_HEART_RATE 16770; MDC_ECG_ELEC_POTL_II 258 (Antidote
 *   ecg header and an 11073 Java nomenclature table).
 * - HL7 FHIR R5 observation-example-satO2: LOINC 2708-6, 59408-5, MDC 150456.
 * - HL7 FHIR observation-example-sample-data (ECG): MDC 131330 MDC_ECG_ELEC_POTL_II.
 * - A published HL7 PHD HR example: LOINC 8867-4 with MDC 147842; PHD IG text "MDC_ECG_HEART_RATE
 *   ... nomenclature code 147842".
 * - HL7 PCD-01 NIBP examples: 150021/150022/150023 with MDC_DIM_MMHG.
 * - FHIR vital-signs profiles: 8867-4 heart rate, 8480-6 systolic, 8462-4 diastolic,
 *   8478-0 mean blood pressure, 8310-5 body temperature.
 */

export type ObservationKind = 'numeric' | 'waveform';

export interface UnitSpec {
  /** UCUM case-sensitive code, compared exactly. */
  readonly ucum: string;
  /** Inclusive bounds of a plausible value (for a waveform: of sample × scale). */
  readonly min: Decimal;
  readonly max: Decimal;
  /** LOINC for this quantity when it depends on the unit (mass vs substance concentration). */
  readonly loinc?: string;
}

export interface CodeEntry {
  /** MDC reference id, e.g. 'MDC_PULS_OXIM_SAT_O2'. */
  readonly refId: string;
  /** MDC 32-bit code: partition × 65536 + term code. */
  readonly mdc: number;
  /** Primary LOINC code, when one exists. */
  readonly loinc?: string;
  /** Further LOINC codings an exporter should add (FHIR vital-signs profiles require some). */
  readonly loincAlso?: readonly string[];
  readonly display: string;
  readonly kind: ObservationKind;
  /** Allowed units; the first is the preferred one. */
  readonly units: readonly UnitSpec[];
}

const SCADA = 2 * 65536;

export const CODE_TABLE: readonly CodeEntry[] = [
  {
    refId: 'MDC_PULS_OXIM_SAT_O2',
    mdc: SCADA + 19384, // 150456
    // 59408-5 names the method (pulse oximetry), which is what our devices measure;
    // FHIR R4+'s oxygensat profile requires the methodless 2708-6, so exporters add it too.
    loinc: '59408-5',
    loincAlso: ['2708-6'],
    display: 'Oxygen saturation (SpO2) by pulse oximetry',
    kind: 'numeric',
    units: [{ ucum: '%', min: dec('0'), max: dec('100') }],
  },
  {
    refId: 'MDC_PULS_OXIM_PULS_RATE',
    mdc: SCADA + 18458, // 149530
    // 8867-4 (heart rate) is what the FHIR heartrate profile requires; a method-specific
    // pulse-oximetry code was not confirmed in our sources, so none is claimed.
    loinc: '8867-4',
    display: 'Pulse rate by pulse oximetry',
    kind: 'numeric',
    units: [{ ucum: '/min', min: dec('0'), max: dec('350') }],
  },
  {
    refId: 'MDC_ECG_ELEC_POTL_II',
    mdc: SCADA + 258, // 131330
    display: 'ECG lead II',
    kind: 'waveform',
    // Surface ECG amplitudes stay within a few mV; ±10 mV bounds hardware saturation.
    units: [{ ucum: 'mV', min: dec('-10'), max: dec('10') }],
  },
  {
    refId: 'MDC_ECG_HEART_RATE',
    mdc: SCADA + 16770, // 147842
    loinc: '8867-4',
    display: 'Heart rate from ECG',
    kind: 'numeric',
    units: [{ ucum: '/min', min: dec('0'), max: dec('350') }],
  },
  {
    refId: 'MDC_PRESS_BLD_NONINV_SYS',
    mdc: SCADA + 18949, // 150021
    loinc: '8480-6',
    display: 'Systolic blood pressure, non-invasive',
    kind: 'numeric',
    // 0–300 mmHg is the cuff range of NIBP monitors (IEC 80601-2-30 devices).
    units: [{ ucum: 'mm[Hg]', min: dec('0'), max: dec('300') }],
  },
  {
    refId: 'MDC_PRESS_BLD_NONINV_DIA',
    mdc: SCADA + 18950, // 150022
    loinc: '8462-4',
    display: 'Diastolic blood pressure, non-invasive',
    kind: 'numeric',
    units: [{ ucum: 'mm[Hg]', min: dec('0'), max: dec('300') }],
  },
  {
    refId: 'MDC_PRESS_BLD_NONINV_MEAN',
    mdc: SCADA + 18951, // 150023
    loinc: '8478-0',
    display: 'Mean blood pressure, non-invasive',
    kind: 'numeric',
    units: [{ ucum: 'mm[Hg]', min: dec('0'), max: dec('300') }],
  },
  {
    refId: 'MDC_TEMP_BODY',
    mdc: SCADA + 19292, // 150364
    loinc: '8310-5',
    display: 'Body temperature',
    kind: 'numeric',
    units: [{ ucum: 'Cel', min: dec('25'), max: dec('45') }],
  },
  {
    refId: 'MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD',
    mdc: SCADA + 29112, // 160184
    display: 'Glucose in capillary whole blood',
    kind: 'numeric',
    units: [
      // 41653-7 "Glucose [Mass/volume] in Capillary blood by Glucometer" matches the MDC
      // term (capillary whole blood, meter); 2339-0 is the unspecific blood code.
      { ucum: 'mg/dL', min: dec('10'), max: dec('1000'), loinc: '41653-7' },
      // The moles/volume glucometer LOINC was not confirmed in our sources: none claimed.
      { ucum: 'mmol/L', min: dec('0.5'), max: dec('55.5') },
    ],
  },
];

const byMdc = new Map(CODE_TABLE.map((e) => [e.mdc, e]));
const byRefId = new Map(CODE_TABLE.map((e) => [e.refId, e]));

export function codeByMdc(mdc: number): CodeEntry | undefined {
  return byMdc.get(mdc);
}

export function codeByRefId(refId: string): CodeEntry | undefined {
  return byRefId.get(refId);
}

export function unitSpec(entry: CodeEntry, ucum: string): UnitSpec | undefined {
  return entry.units.find((u) => u.ucum === ucum);
}

/** The LOINC coding for a value in `ucum`: the unit's own, else the entry's. */
export function loincFor(entry: CodeEntry, ucum: string): string | undefined {
  return unitSpec(entry, ucum)?.loinc ?? entry.loinc;
}
