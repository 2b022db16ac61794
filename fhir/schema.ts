import { z } from 'zod';
import type { FhirDecimal } from './decimal.js';
import { CATEGORY, MDC, UCUM } from './terminology.js';

/**
 * The subset of FHIR R4 Observation that `medchain export --format fhir` writes, as one
 * zod schema over the decimal type: FhirDecimal for what the mapper builds (exact text),
 * a JSON number for a parsed NDJSON line. Strict objects: a field we do not emit fails.
 * Mapping and meaning: docs/FHIR.md.
 */

export const READING_SYSTEM = 'urn:medchain:reading';
export const PATIENT_SYSTEM = 'urn:medchain:patient';
export const DEVICE_SYSTEM = 'urn:medchain:device';
/** Where the reading came from: gateway receive time, block, notary height. */
export const TRACE_URL = 'urn:medchain:fhir:trace';
/** Device time minus gateway receive time, present when beyond the allowed skew. */
export const CLOCK_SKEW_URL = 'urn:medchain:fhir:clock-skew';

/** FHIR id: [A-Za-z0-9\-\.]{1,64}. */
export const FHIR_ID_RE = /^[A-Za-z0-9.-]{1,64}$/;
/** instant / dateTime as medchain writes them: UTC with milliseconds. */
const INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** FHIR unsignedInt. */
export const UNSIGNED_INT_MAX = 2_147_483_647;

export function observationSchema<D extends z.ZodType>(decimal: D) {
  const instant = z.string().regex(INSTANT_RE);
  const uint = z.number().int().min(0).max(UNSIGNED_INT_MAX);
  const coding = z.strictObject({
    system: z.string().min(1),
    code: z.string().min(1),
    display: z.string().optional(),
  });
  const concept = z.strictObject({ coding: z.array(coding).min(1), text: z.string() });
  const quantity = z.strictObject({
    value: decimal,
    unit: z.string(),
    system: z.literal(UCUM),
    code: z.string().min(1),
  });
  const sampledData = z.strictObject({
    origin: quantity,
    period: decimal,
    factor: decimal,
    dimensions: z.literal(1),
    data: z.string().regex(/^-?[0-9]+( -?[0-9]+)*$/),
  });
  const reference = <T extends 'Patient' | 'Device'>(type: T, system: z.ZodType<string>) =>
    z.strictObject({
      reference: z
        .string()
        .regex(new RegExp(`^${type}/[A-Za-z0-9.-]{1,64}$`))
        .optional(),
      type: z.literal(type),
      identifier: z.strictObject({ system, value: z.string().min(1) }),
    });
  const trace = z.strictObject({
    url: z.literal(TRACE_URL),
    extension: z.tuple([
      z.strictObject({ url: z.literal('receivedAt'), valueInstant: instant }),
      z.strictObject({ url: z.literal('gateway'), valueString: z.string().min(1) }),
      z.strictObject({ url: z.literal('blockSeq'), valueUnsignedInt: uint }),
      z.strictObject({ url: z.literal('record'), valueUnsignedInt: uint }),
      z.strictObject({ url: z.literal('notary'), valueString: z.string().min(1) }),
      z.strictObject({ url: z.literal('height'), valueUnsignedInt: uint }),
    ]),
  });
  const skew = z.strictObject({
    url: z.literal(CLOCK_SKEW_URL),
    valueQuantity: z.strictObject({
      value: decimal,
      unit: z.literal('ms'),
      system: z.literal(UCUM),
      code: z.literal('ms'),
    }),
  });
  const oneValue = (o: { valueQuantity?: unknown; valueSampledData?: unknown }) =>
    (o.valueQuantity === undefined) !== (o.valueSampledData === undefined);
  const component = z
    .strictObject({
      code: concept,
      valueQuantity: quantity.optional(),
      valueSampledData: sampledData.optional(),
    })
    .refine(oneValue, 'a component carries exactly one value[x]');
  return z
    .strictObject({
      resourceType: z.literal('Observation'),
      id: z.string().regex(FHIR_ID_RE),
      extension: z.array(z.union([trace, skew])).min(1),
      identifier: z.tuple([
        z.strictObject({ system: z.literal(READING_SYSTEM), value: z.string() }),
      ]),
      status: z.literal('final'),
      category: z.tuple([
        z.strictObject({
          coding: z.tuple([
            z.strictObject({
              system: z.literal(CATEGORY),
              code: z.enum(['vital-signs', 'laboratory']),
              display: z.string(),
            }),
          ]),
        }),
      ]),
      code: concept.refine(
        (c) => c.coding.some((x) => x.system === MDC),
        'the code carries an MDC coding',
      ),
      subject: reference('Patient', z.string().min(1)),
      effectiveDateTime: instant,
      issued: instant,
      device: reference('Device', z.string().min(1)),
      valueQuantity: quantity.optional(),
      valueSampledData: sampledData.optional(),
      component: z.array(component).min(1).optional(),
      note: z.array(z.strictObject({ text: z.string().min(1) })).optional(),
    })
    .refine(
      (o) => oneValue(o) || (o.valueQuantity === undefined && o.component !== undefined),
      'an Observation carries one value[x], or components only',
    );
}

/** What the mapper builds (decimals as exact text). */
export type FhirObservation = z.infer<ReturnType<typeof observationSchema<z.ZodType<FhirDecimal>>>>;
/** A parsed NDJSON line (decimals as JSON numbers, exactness checked on the raw text). */
export const observationJsonSchema = observationSchema(z.number());
export type FhirObservationJson = z.infer<typeof observationJsonSchema>;
