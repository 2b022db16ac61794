import { codeByRefId } from './codes.js';
import { type Decimal, parseDecimal } from './decimal.js';
import type { Observation, Reading } from './reading.js';
import { ReadingError, ReadingReason } from './reading-errors.js';
import { type JsonReading, TIME_MAX_MS, TIME_MIN_MS } from './reading-schema.js';

/**
 * Turns a shape-checked JSON reading into the model: names to MDC codes, decimal text to
 * exact decimals, ISO time to milliseconds. Throws ReadingError only.
 */

// RFC 3339 date-time with an explicit zone; at most millisecond precision, as the
// canonical form holds integer milliseconds.
const RFC3339_RE =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(Z|[+-]\d{2}:\d{2})$/;

export function parseTime(text: string, path: string): number {
  const m = RFC3339_RE.exec(text);
  const ms = m === null ? Number.NaN : Date.parse(text);
  // Date.parse rolls 2024-02-30 over to March: a round trip catches impossible dates.
  if (m === null || Number.isNaN(ms) || !sameCalendar(m, ms)) {
    throw new ReadingError(
      ReadingReason.Schema,
      path,
      'time must be integer milliseconds or RFC 3339 with a zone, e.g. 2025-01-31T12:00:00.250Z',
    );
  }
  if (ms < TIME_MIN_MS || ms > TIME_MAX_MS) {
    throw new ReadingError(ReadingReason.Schema, path, 'time is before 1970 or after 2200');
  }
  return ms;
}

function sameCalendar(m: RegExpExecArray, ms: number): boolean {
  const zone = m[8]!;
  const offsetMin =
    zone === 'Z'
      ? 0
      : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4)));
  const local = new Date(ms + offsetMin * 60_000);
  return (
    local.getUTCFullYear() === Number(m[1]) &&
    local.getUTCMonth() + 1 === Number(m[2]) &&
    local.getUTCDate() === Number(m[3]) &&
    local.getUTCHours() === Number(m[4]) &&
    local.getUTCMinutes() === Number(m[5]) &&
    local.getUTCSeconds() === Number(m[6])
  );
}

export function jsonDecimal(v: string | number, path: string): Decimal {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return { mantissa: v, exponent: 0 };
    // JSON.parse already turned the text into a binary float; its digits are lost.
    throw new ReadingError(
      ReadingReason.Schema,
      path,
      'non-integer JSON numbers are not accepted (a float cannot carry an exact decimal); send the value as a string, e.g. "97.5"',
    );
  }
  const d = parseDecimal(v);
  if (d === undefined) {
    throw new ReadingError(
      ReadingReason.Schema,
      path,
      `'${v}' is not a decimal this format holds (mantissa within 2^53, exponent within int8)`,
    );
  }
  return d;
}

function jsonCode(code: string | number, path: string): number {
  if (typeof code === 'number') return code;
  const entry = codeByRefId(code);
  if (entry === undefined) {
    throw new ReadingError(ReadingReason.UnknownCode, path, `unknown code ${code}`);
  }
  return entry.mdc;
}

export function readingFromJson(j: JsonReading): Reading {
  const observations = j.obs.map((o, i): Observation => {
    const path = `obs[${i}]`;
    const code = jsonCode(o.code, `${path}.code`);
    if (!('samples' in o)) {
      return { kind: 'numeric', code, value: jsonDecimal(o.value, `${path}.value`), unit: o.unit };
    }
    const bits = o.bits ?? 16;
    const lim = bits === 16 ? 0x8000 : 0x80000000;
    if (o.samples.some((s) => s < -lim || s >= lim)) {
      throw new ReadingError(
        ReadingReason.Schema,
        `${path}.samples`,
        `a sample exceeds int${bits}`,
      );
    }
    return {
      kind: 'waveform',
      code,
      samples: bits === 16 ? Int16Array.from(o.samples) : Int32Array.from(o.samples),
      periodUs: o.periodUs,
      scale: jsonDecimal(o.scale, `${path}.scale`),
      unit: o.unit,
    };
  });
  return {
    deviceId: j.deviceId,
    seq: j.seq,
    deviceTime: typeof j.time === 'number' ? j.time : parseTime(j.time, 'time'),
    patient: j.patient,
    observations,
  };
}
