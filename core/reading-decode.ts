import { DetCborError, decodeDet } from './det-cbor.js';
import {
  encodeReading,
  OBS_NUMERIC,
  OBS_WAVEFORM_I16,
  type Observation,
  type Reading,
  samplesFromBytes,
} from './reading.js';
import { ReadingError, ReadingReason } from './reading-errors.js';
import { readingFromJson } from './reading-json.js';
import {
  type CborReading,
  CLOCK_RESET_BEFORE_MS,
  cborReadingSchema,
  describeIssue,
  jsonReadingSchema,
  type ReadingLimits,
  resolveLimits,
} from './reading-schema.js';
import { clockSkew, validateObservations } from './reading-validate.js';

export interface DecodeReadingOptions {
  /** Defaults: DEFAULT_READING_LIMITS. */
  readonly limits?: Partial<ReadingLimits>;
  /** The id in the topic the payload arrived on; a different payload id is refused. */
  readonly expectedDeviceId?: string;
  /** Gateway receive time (ms since epoch) for the skew flag; no flag without it. */
  readonly receivedAt?: number;
  /** 'auto' (default): JSON if the first non-blank byte is '{', else CBOR. */
  readonly format?: 'auto' | 'cbor' | 'json';
}

export interface DecodedReading {
  readonly reading: Reading;
  /** encodeReading(reading): what the body seals. Equals the input for canonical CBOR. */
  readonly canonical: Uint8Array;
  readonly format: 'cbor' | 'json';
  /** deviceTime − receivedAt in ms; 0 when receivedAt was not given. */
  readonly clockSkewMs: number;
  /** |clockSkewMs| > maxClockSkewMs: count it, keep the reading, never correct it. */
  readonly clockSkewed: boolean;
  /** deviceTime before 2000: the device clock was reset. Kept and flagged, like a skew. */
  readonly clockReset: boolean;
}

export type DecodeReadingResult =
  | { readonly ok: true; readonly value: DecodedReading }
  | { readonly ok: false; readonly error: ReadingError };

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

// Schemas depend on the limits; build them once per distinct limits, not per message.
const schemaCache = new Map<
  string,
  { json: ReturnType<typeof jsonReadingSchema>; cbor: ReturnType<typeof cborReadingSchema> }
>();
function schemas(l: ReadingLimits) {
  const key = JSON.stringify(l);
  let s = schemaCache.get(key);
  if (s === undefined) {
    if (schemaCache.size > 16) schemaCache.clear();
    s = { json: jsonReadingSchema(l), cbor: cborReadingSchema(l) };
    schemaCache.set(key, s);
  }
  return s;
}

/**
 * Validates one device payload. Never throws: every refusal is a ReadingError with a
 * stable reason. Order: size, syntax, counts (observations, samples), shape, device id,
 * codes/units/ranges, then the skew flag.
 */
export function decodeReading(
  bytes: Uint8Array,
  opts: DecodeReadingOptions = {},
): DecodeReadingResult {
  try {
    return { ok: true, value: decodeOrThrow(bytes, opts) };
  } catch (err) {
    if (err instanceof ReadingError) return { ok: false, error: err };
    // Defence in depth: nothing below should throw anything else, but a device must
    // never be able to turn a bug into an untyped crash.
    return {
      ok: false,
      error: new ReadingError(ReadingReason.Schema, '', 'payload could not be interpreted', {
        cause: err,
      }),
    };
  }
}

function decodeOrThrow(bytes: Uint8Array, opts: DecodeReadingOptions): DecodedReading {
  const limits = resolveLimits(opts.limits);
  if (bytes.length > limits.maxPayloadBytes) {
    throw new ReadingError(
      ReadingReason.PayloadTooLarge,
      '',
      `${bytes.length} bytes exceeds the ${limits.maxPayloadBytes}-byte limit`,
    );
  }
  const format = opts.format === undefined || opts.format === 'auto' ? sniff(bytes) : opts.format;
  const reading = format === 'json' ? parseJson(bytes, limits) : parseCbor(bytes, limits);
  if (opts.expectedDeviceId !== undefined && reading.deviceId !== opts.expectedDeviceId) {
    throw new ReadingError(
      ReadingReason.DeviceIdMismatch,
      'deviceId',
      `payload names device '${reading.deviceId}' but arrived on the topic of '${opts.expectedDeviceId}'`,
    );
  }
  const bad = validateObservations(reading);
  if (bad !== undefined) throw bad;
  const skew =
    opts.receivedAt === undefined
      ? { skewMs: 0, skewed: false }
      : clockSkew(reading.deviceTime, opts.receivedAt, limits.maxClockSkewMs);
  return {
    reading,
    canonical: encodeReading(reading),
    format,
    clockSkewMs: skew.skewMs,
    clockSkewed: skew.skewed,
    clockReset: reading.deviceTime < CLOCK_RESET_BEFORE_MS,
  };
}

function sniff(bytes: Uint8Array): 'cbor' | 'json' {
  for (const b of bytes) {
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
    return b === 0x7b ? 'json' : 'cbor';
  }
  return 'cbor';
}

function parseJson(bytes: Uint8Array, limits: ReadingLimits): Reading {
  let raw: unknown;
  try {
    raw = JSON.parse(utf8Strict.decode(bytes));
  } catch (err) {
    throw new ReadingError(ReadingReason.MalformedJson, '', 'payload is not UTF-8 JSON', {
      cause: err,
    });
  }
  // Counts first, so an oversized frame gets its own reason, not a generic schema error.
  if (isRecord(raw) && Array.isArray(raw.obs)) {
    checkCount(raw.obs.length, limits);
    for (const [i, o] of raw.obs.entries()) {
      if (isRecord(o) && Array.isArray(o.samples)) checkSamples(o.samples.length, i, limits);
    }
  }
  const parsed = schemas(limits).json.safeParse(raw);
  if (!parsed.success) {
    const { path, message } = describeIssue(parsed.error);
    throw new ReadingError(ReadingReason.Schema, path, message);
  }
  return readingFromJson(parsed.data);
}

function parseCbor(bytes: Uint8Array, limits: ReadingLimits): Reading {
  let raw: unknown;
  try {
    // Depth 3: reading → observation list → observation.
    raw = decodeDet(bytes, { maxDepth: 3 });
  } catch (err) {
    if (err instanceof DetCborError) {
      const reason = err.kind === 'forbidden' ? ReadingReason.Schema : ReadingReason.MalformedCbor;
      throw new ReadingError(reason, '', err.message, { cause: err });
    }
    throw err;
  }
  if (Array.isArray(raw) && Array.isArray(raw[5])) {
    checkCount(raw[5].length, limits);
    for (const [i, o] of (raw[5] as unknown[]).entries()) {
      if (Array.isArray(o) && (o[0] === 1 || o[0] === 2) && o[2] instanceof Uint8Array) {
        checkSamples(Math.floor(o[2].length / (o[0] === 1 ? 2 : 4)), i, limits);
      }
    }
  }
  const parsed = schemas(limits).cbor.safeParse(raw);
  if (!parsed.success) {
    const { path, message } = describeIssue(parsed.error);
    throw new ReadingError(ReadingReason.Schema, path, message);
  }
  return readingFromCbor(parsed.data);
}

export function readingFromCbor(c: CborReading): Reading {
  const [, deviceId, seq, deviceTime, patient, obs] = c;
  const observations = obs.map((o, i): Observation => {
    if (o[0] === OBS_NUMERIC) {
      return { kind: 'numeric', code: o[1], value: { mantissa: o[2], exponent: o[3] }, unit: o[4] };
    }
    const [tag, code, bytes, periodUs, mantissa, exponent, unit] = o;
    const width = tag === OBS_WAVEFORM_I16 ? 2 : 4;
    if (bytes.length === 0 || bytes.length % width !== 0) {
      throw new ReadingError(
        ReadingReason.Schema,
        `obs[${i}].samples`,
        `sample bytes must be a non-empty multiple of ${width}`,
      );
    }
    return {
      kind: 'waveform',
      code,
      samples: samplesFromBytes(bytes, width),
      periodUs,
      scale: { mantissa, exponent },
      unit,
    };
  });
  return { deviceId, seq, deviceTime, patient, observations };
}

function checkCount(n: number, limits: ReadingLimits): void {
  if (n > limits.maxObservations) {
    throw new ReadingError(
      ReadingReason.TooManyObservations,
      'obs',
      `${n} observations exceeds the limit of ${limits.maxObservations}`,
    );
  }
}

function checkSamples(n: number, i: number, limits: ReadingLimits): void {
  if (n > limits.maxSamples) {
    throw new ReadingError(
      ReadingReason.TooManySamples,
      `obs[${i}].samples`,
      `${n} samples exceeds the limit of ${limits.maxSamples}`,
    );
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
