import { toHex } from '../core/bytes.js';
import { sha256 } from '../core/hash.js';
import type { Observation, Reading } from '../core/reading.js';
import { DEFAULT_READING_LIMITS } from '../core/reading-schema.js';
import { clockSkew } from '../core/reading-validate.js';
import { FhirDecimal } from './decimal.js';
import { FhirCode, FhirError } from './errors.js';
import {
  CLOCK_SKEW_URL,
  DEVICE_SYSTEM,
  FHIR_ID_RE,
  type FhirObservation,
  PATIENT_SYSTEM,
  READING_SYSTEM,
  TRACE_URL,
  UNSIGNED_INT_MAX,
} from './schema.js';
import {
  BP_PANEL,
  CATEGORY,
  CATEGORY_DISPLAY,
  type Concept,
  categoryOf,
  conceptOf,
  entryOf,
  isBloodPressurePanel,
  UCUM,
  unitDisplay,
} from './terminology.js';

/**
 * One medchain reading → one FHIR R4 Observation (docs/FHIR.md). Pure: the caller has
 * decrypted and decoded the reading (so its codes and units are in core's table) and
 * says where it came from.
 */

/** Where a reading sits in the chain: enough to find it again and prove it. */
export interface ReadingTrace {
  /** Gateway receive time, ms since epoch (sealed in the body next to the reading). */
  readonly receivedAt: number;
  readonly gatewayId: string;
  /** The gateway's block sequence number. */
  readonly blockSeq: number;
  /** Index of the reading's record in the block: its Merkle leaf index. */
  readonly record: number;
  readonly notaryId: string;
  /** The block's height in the notary's chain. */
  readonly height: number;
}

export interface MappingOptions {
  /** Beyond this |device time − receive time| the reading is flagged (default 5 min, as the gateway). */
  readonly maxClockSkewMs?: number;
  /** Identifier system of the clinic's patient references (default urn:medchain:patient). */
  readonly patientSystem?: string;
  /** Identifier system of device ids (default urn:medchain:device). */
  readonly deviceSystem?: string;
}

type Value = Pick<FhirObservation, 'valueQuantity' | 'valueSampledData'>;
type Component = NonNullable<FhirObservation['component']>[number];

export function readingToObservation(
  r: Reading,
  trace: ReadingTrace,
  opts: MappingOptions = {},
): FhirObservation {
  const [first, ...rest] = r.observations;
  if (first === undefined) throw new TypeError('a decoded reading has at least one observation');
  const codes = r.observations.map((o) => o.code);
  const panel = isBloodPressurePanel(codes);
  // The blood pressure panel has no value of its own; any other reading's first
  // observation is its primary one and the others (pulse rate, ECG heart rate) its components.
  const code: Concept = panel ? BP_PANEL : conceptOf(entryOf(first.code), first.unit);
  const value: Value = panel ? {} : fhirValue(first);
  const parts = panel ? r.observations : rest;
  const category = categoryOf(first.code);
  const identifier = `${r.deviceId}/${r.seq}`;
  const maxSkew = opts.maxClockSkewMs ?? DEFAULT_READING_LIMITS.maxClockSkewMs;
  const skew = clockSkew(r.deviceTime, trace.receivedAt, maxSkew);
  const extension: FhirObservation['extension'] = [traceExtension(trace)];
  if (skew.skewed) {
    extension.push({
      url: CLOCK_SKEW_URL,
      valueQuantity: {
        value: FhirDecimal.of({ mantissa: skew.skewMs, exponent: 0 }),
        unit: 'ms',
        system: UCUM,
        code: 'ms',
      },
    });
  }
  return {
    resourceType: 'Observation',
    // Deterministic, so a re-export updates rather than duplicates (Bulk Data import upserts by id).
    id: toHex(sha256(new TextEncoder().encode(identifier))),
    extension,
    identifier: [{ system: READING_SYSTEM, value: identifier }],
    status: 'final',
    category: [
      { coding: [{ system: CATEGORY, code: category, display: CATEGORY_DISPLAY[category] }] },
    ],
    code: { coding: [...code.coding], text: code.text },
    subject: reference('Patient', opts.patientSystem ?? PATIENT_SYSTEM, r.patient),
    effectiveDateTime: new Date(r.deviceTime).toISOString(),
    issued: new Date(trace.receivedAt).toISOString(),
    device: reference('Device', opts.deviceSystem ?? DEVICE_SYSTEM, r.deviceId),
    ...value,
    ...(parts.length > 0 ? { component: parts.map(componentOf) } : {}),
    ...(skew.skewed
      ? {
          note: [
            {
              text: `Device clock differs from the gateway receive time by ${skew.skewMs} ms (allowed ${maxSkew} ms); effectiveDateTime is the device time, not corrected.`,
            },
          ],
        }
      : {}),
  };
}

function fhirValue(o: Observation): Value {
  if (o.kind === 'numeric') {
    return {
      valueQuantity: {
        value: FhirDecimal.of(o.value),
        unit: unitDisplay(o.unit),
        system: UCUM,
        code: o.unit,
      },
    };
  }
  // Physical value of sample i = origin + data[i] × factor (FHIR SampledData), in `unit`.
  return {
    valueSampledData: {
      origin: {
        value: FhirDecimal.of({ mantissa: 0, exponent: 0 }),
        unit: unitDisplay(o.unit),
        system: UCUM,
        code: o.unit,
      },
      period: FhirDecimal.trimmed({ mantissa: o.periodUs, exponent: -3 }),
      factor: FhirDecimal.of(o.scale),
      dimensions: 1,
      data: Array.from(o.samples).join(' '),
    },
  };
}

function componentOf(o: Observation): Component {
  const c = conceptOf(entryOf(o.code), o.unit);
  return { code: { coding: [...c.coding], text: c.text }, ...fhirValue(o) };
}

/**
 * A logical reference by identifier (the clinic's opaque patient reference, the device
 * id), plus a literal `Type/id` when the value is also a valid FHIR id.
 */
function reference<T extends 'Patient' | 'Device'>(type: T, system: string, value: string) {
  return {
    ...(FHIR_ID_RE.test(value) ? { reference: `${type}/${value}` } : {}),
    type,
    identifier: { system, value },
  };
}

function unsignedInt(name: string, v: number, height: number): number {
  if (!Number.isInteger(v) || v < 0 || v > UNSIGNED_INT_MAX) {
    throw new FhirError(FhirCode.Range, `${name} ${v} does not fit a FHIR unsignedInt`, {
      height,
    });
  }
  return v;
}

function traceExtension(t: ReadingTrace): FhirObservation['extension'][number] {
  return {
    url: TRACE_URL,
    extension: [
      { url: 'receivedAt', valueInstant: new Date(t.receivedAt).toISOString() },
      { url: 'gateway', valueString: t.gatewayId },
      { url: 'blockSeq', valueUnsignedInt: unsignedInt('blockSeq', t.blockSeq, t.height) },
      { url: 'record', valueUnsignedInt: unsignedInt('record', t.record, t.height) },
      { url: 'notary', valueString: t.notaryId },
      { url: 'height', valueUnsignedInt: unsignedInt('height', t.height, t.height) },
    ],
  };
}
