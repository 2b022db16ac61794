import type { NumericObservation, Reading, WaveformObservation } from '../core/reading.js';
import { DEFAULT_READING_LIMITS } from '../core/reading-schema.js';
import { clockSkew } from '../core/reading-validate.js';
import { CLOCK_SKEW_URL, SID } from './canonical.js';
import { FhirDecimal } from './decimal.js';
import { metricId, observationId, patientId, readingIdOf } from './ids.js';
import type { CodeableConcept, Extension, Observation, Quantity } from './resources.js';
import {
  BP_PANEL,
  BP_PANEL_MDC,
  CATEGORY,
  CATEGORY_DISPLAY,
  type Category,
  type Concept,
  categoryOf,
  conceptOf,
  entryOf,
  profileOf,
  UCUM,
  unitDisplay,
} from './terminology.js';

/**
 * Readings → FHIR R4 Observations (docs/FHIR.md "Observation"). Pure. Each measured
 * quantity is its own Observation, as the vital-signs profiles and a flowsheet query by
 * LOINC code expect; systolic and diastolic (and mean) of one reading form the blood
 * pressure panel; waveform frames are joined into strips by strip.ts.
 */

/** A reading as a reader opened it from a block. */
export interface SealedReading {
  readonly reading: Reading;
  /** Gateway receive time, ms since epoch (sealed in the body next to the reading). */
  readonly receivedAt: number;
  readonly notaryId: string;
  /** The height of its block's entry in the notary's chain. */
  readonly height: number;
}

export interface MappingOptions {
  /** Beyond this |device time − receive time| the reading is flagged (default 5 min, as the gateway). */
  readonly maxClockSkewMs?: number;
  /** Identifier system of the clinic's patient references. */
  readonly patientSystem?: string;
  /** Length of an ECG strip in ms (default 10 s). */
  readonly stripMs?: number;
}

/** The DeviceMetric an Observation comes from. */
export interface MetricKey {
  readonly deviceId: string;
  readonly mdc: number;
  readonly ucum: string;
}

/** An Observation with the readings it carries and the metric it comes from. */
export interface Mapped {
  readonly observation: Observation;
  readonly readings: readonly SealedReading[];
  readonly metric: MetricKey;
}

const SYS = 150021;
const DIA = 150022;
const MEAN = 150023;
const BP_PARTS: ReadonlySet<number> = new Set([SYS, DIA, MEAN]);

/** The numeric Observations of one reading; its waveforms are the caller's (strip.ts). */
export function numericObservations(s: SealedReading, opts: MappingOptions = {}): Mapped[] {
  const numerics = s.reading.observations.filter(
    (o): o is NumericObservation => o.kind === 'numeric',
  );
  const bp = numerics.filter((o) => BP_PARTS.has(o.code));
  const panel =
    bp.some((o) => o.code === SYS) && bp.some((o) => o.code === DIA) && allUnits(bp, 'mm[Hg]');
  const out: Mapped[] = [];
  for (const o of numerics) {
    if (panel && BP_PARTS.has(o.code)) continue;
    out.push(
      mapped(
        [s],
        { deviceId: s.reading.deviceId, mdc: o.code, ucum: o.unit },
        conceptOf(entryOf(o.code), o.unit),
        { valueQuantity: quantity(o) },
        opts,
      ),
    );
  }
  if (panel) {
    const components = bp.map((o) => ({
      code: codeable(conceptOf(entryOf(o.code), o.unit)),
      valueQuantity: quantity(o),
    }));
    out.unshift(
      mapped(
        [s],
        { deviceId: s.reading.deviceId, mdc: BP_PANEL_MDC, ucum: 'mm[Hg]' },
        BP_PANEL,
        { component: components },
        opts,
      ),
    );
  }
  return out;
}

const allUnits = (os: readonly NumericObservation[], ucum: string) =>
  os.every((o) => o.unit === ucum);

type Body = Pick<Observation, 'valueQuantity' | 'valueSampledData' | 'component'>;

/** The Observation around a value: identity, category, profile, subject, device, times. */
export function mapped(
  readings: readonly SealedReading[],
  metric: MetricKey,
  concept: Concept,
  body: Body,
  opts: MappingOptions,
): Mapped {
  const first = readings[0];
  if (first === undefined) throw new TypeError('an Observation carries at least one reading');
  const r = first.reading;
  const category = categoryOf(metric.mdc);
  const profile = profileOf(metric.mdc);
  const extension = skewExtension(readings, opts);
  const issued = Math.max(...readings.map((x) => x.receivedAt));
  const observation: Observation = {
    resourceType: 'Observation',
    id: observationId(readingIdOf(r), metric.mdc),
    ...(profile === undefined ? {} : { meta: { profile: [profile] } }),
    ...(extension === undefined ? {} : { extension: [extension.ext] }),
    identifier: readings.map((x) => ({ system: SID.reading, value: readingIdOf(x.reading) })),
    status: 'final',
    category: [categoryConcept(category)],
    code: codeable(concept),
    subject: { reference: `Patient/${patientId(r.patient)}` },
    effectiveDateTime: new Date(r.deviceTime).toISOString(),
    issued: new Date(issued).toISOString(),
    device: { reference: `DeviceMetric/${metricId(r.deviceId, metric.mdc, unitIndex(metric))}` },
    ...body,
    ...(extension === undefined ? {} : { note: [{ text: extension.note }] }),
  };
  return { observation, readings, metric };
}

/** The unit's index in core's table: 0 for the preferred unit (ids.ts metricId). */
export function unitIndex(m: MetricKey): number {
  if (m.mdc === BP_PANEL_MDC) return 0;
  return Math.max(
    0,
    entryOf(m.mdc).units.findIndex((u) => u.ucum === m.ucum),
  );
}

function categoryConcept(c: Category): CodeableConcept {
  return {
    coding: [{ system: CATEGORY, code: c, display: CATEGORY_DISPLAY[c] }],
    text: CATEGORY_DISPLAY[c],
  };
}

const codeable = (c: Concept): CodeableConcept => ({ coding: [...c.coding], text: c.text });

export function quantity(o: NumericObservation): Quantity {
  return { value: FhirDecimal.of(o.value), unit: unitDisplay(o.unit), system: UCUM, code: o.unit };
}

/** The physical zero of a waveform in its unit (SampledData.origin). */
export function origin(o: WaveformObservation): Quantity {
  return {
    value: FhirDecimal.of({ mantissa: 0, exponent: 0 }),
    unit: unitDisplay(o.unit),
    system: UCUM,
    code: o.unit,
  };
}

/**
 * The largest device clock skew among the readings, when beyond the allowed one: the
 * effective time is the device's, never corrected, and the reader is told so.
 */
function skewExtension(
  readings: readonly SealedReading[],
  opts: MappingOptions,
): { ext: Extension; note: string } | undefined {
  const max = opts.maxClockSkewMs ?? DEFAULT_READING_LIMITS.maxClockSkewMs;
  let worst: number | undefined;
  for (const x of readings) {
    const s = clockSkew(x.reading.deviceTime, x.receivedAt, max);
    if (s.skewed && (worst === undefined || Math.abs(s.skewMs) > Math.abs(worst))) worst = s.skewMs;
  }
  if (worst === undefined) return undefined;
  return {
    ext: {
      url: CLOCK_SKEW_URL,
      valueQuantity: {
        value: FhirDecimal.of({ mantissa: worst, exponent: 0 }),
        unit: 'ms',
        system: UCUM,
        code: 'ms',
      },
    },
    note: `Device clock differs from the gateway receive time by ${worst} ms (allowed ${max} ms); effectiveDateTime is the device time, not corrected.`,
  };
}

export const DEFAULT_STRIP_MS = 10_000;
