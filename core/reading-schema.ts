import { z } from 'zod';
import { DECIMAL_STRING_MAX } from './decimal.js';

/**
 * Shapes of what devices send, checked with zod before any semantic check. Value checks
 * (code known, unit, range) live in reading-validate.ts so each gets its own reason.
 */

export interface ReadingLimits {
  /** Whole payload, checked before parsing anything. */
  readonly maxPayloadBytes: number;
  readonly maxObservations: number;
  /** Per waveform observation. */
  readonly maxSamples: number;
  readonly maxDeviceIdLength: number;
  readonly maxPatientLength: number;
  /** |deviceTime − receivedAt| above this is flagged (never corrected). */
  readonly maxClockSkewMs: number;
}

/**
 * Defaults sized for the devices we ship: 10 s of 500 Hz ECG is 5,000 samples; as JSON
 * numbers that is under 40 KiB, hence 64 KiB per payload.
 */
export const DEFAULT_READING_LIMITS: ReadingLimits = Object.freeze({
  maxPayloadBytes: 64 * 1024,
  maxObservations: 16,
  maxSamples: 8192,
  maxDeviceIdLength: 64,
  maxPatientLength: 64,
  maxClockSkewMs: 5 * 60 * 1000,
});

export function resolveLimits(partial?: Partial<ReadingLimits>): ReadingLimits {
  return { ...DEFAULT_READING_LIMITS, ...partial };
}

/** A device id becomes an MQTT topic level (§5): no '/', '+', '#', spaces or controls. */
export const DEVICE_ID_RE = /^[A-Za-z0-9._:-]+$/;
/** Printable ASCII without space: opaque clinic references such as 'MRN-000123'. */
export const PATIENT_RE = /^[\x21-\x7e]+$/;
/** UCUM codes are printable ASCII (UCUM §2); length bounded to keep units short. */
export const UNIT_RE = /^[\x21-\x7e]{1,20}$/;
/** An MDC reference id. */
export const REF_ID_RE = /^MDC_[A-Z0-9_]{1,60}$/;

export const MAX_PERIOD_US = 60_000_000;
const safeUint = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const safeInt = z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
const int8 = z.number().int().min(-128).max(127);
/**
 * A device time may be any instant from 1970 to 2200. Before 2000 it is a clock that
 * was reset (a lost RTC, a replaced battery): the reading is real and is kept, flagged
 * clockReset (DESIGN §4: a wrong clock is flagged and counted, never corrected; the
 * gateway's receive time sealed beside it still dates it). After 2200 is not a clock.
 */
export const TIME_MIN_MS = 0;
export const TIME_MAX_MS = Date.UTC(2200, 0, 1);
/** Device times before this are flagged as a reset clock. */
export const CLOCK_RESET_BEFORE_MS = Date.UTC(2000, 0, 1);
const timeMs = z.number().int().min(TIME_MIN_MS).max(TIME_MAX_MS);

function ids(l: ReadingLimits) {
  return {
    deviceId: z.string().min(1).max(l.maxDeviceIdLength).regex(DEVICE_ID_RE),
    patient: z.string().min(1).max(l.maxPatientLength).regex(PATIENT_RE),
  };
}

/**
 * JSON decimal: a string in decimal.ts grammar, or an integer. Any number is let through
 * here so that a float gets its own clear message from reading-json.ts, not a union error.
 */
const jsonDecimal = z.union([z.string().min(1).max(DECIMAL_STRING_MAX), z.number()]);

export function jsonReadingSchema(l: ReadingLimits) {
  const { deviceId, patient } = ids(l);
  const code = z.union([z.string().regex(REF_ID_RE), safeUint]);
  const numeric = z.strictObject({ code, value: jsonDecimal, unit: z.string().regex(UNIT_RE) });
  const waveform = z.strictObject({
    code,
    samples: z.array(z.number().int()).min(1).max(l.maxSamples),
    bits: z.union([z.literal(16), z.literal(32)]).optional(),
    periodUs: z.number().int().min(1).max(MAX_PERIOD_US),
    scale: jsonDecimal,
    unit: z.string().regex(UNIT_RE),
  });
  return z.strictObject({
    v: z.literal(1).optional(),
    deviceId,
    seq: safeUint,
    // ISO 8601 / RFC 3339 text with an explicit zone, or integer milliseconds.
    time: z.union([timeMs, z.string().min(20).max(40)]),
    patient,
    obs: z
      .array(z.union([numeric, waveform]))
      .min(1)
      .max(l.maxObservations),
  });
}
export type JsonReading = z.infer<ReturnType<typeof jsonReadingSchema>>;

export function cborReadingSchema(l: ReadingLimits) {
  const { deviceId, patient } = ids(l);
  const numeric = z.tuple([z.literal(0), safeUint, safeInt, int8, z.string().regex(UNIT_RE)]);
  const waveform = z.tuple([
    z.union([z.literal(1), z.literal(2)]),
    safeUint,
    z.instanceof(Uint8Array),
    z.number().int().min(1).max(MAX_PERIOD_US),
    safeInt,
    int8,
    z.string().regex(UNIT_RE),
  ]);
  return z.tuple([
    z.literal(1),
    deviceId,
    safeUint,
    timeMs,
    patient,
    z
      .array(z.union([numeric, waveform]))
      .min(1)
      .max(l.maxObservations),
  ]);
}
export type CborReading = z.infer<ReturnType<typeof cborReadingSchema>>;

/** First zod issue as 'path: message', for the rejection text. */
export function describeIssue(err: z.ZodError): { path: string; message: string } {
  const issue = err.issues[0];
  if (issue === undefined) return { path: '', message: 'does not match the schema' };
  const path = issue.path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
  return { path, message: issue.message };
}
