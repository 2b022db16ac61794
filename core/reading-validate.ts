import { codeByMdc, unitSpec } from './codes.js';
import { compareBig, compareDecimal, type Decimal, multiplyDecimal } from './decimal.js';
import type { Observation, Reading } from './reading.js';
import { ReadingError, ReadingReason } from './reading-errors.js';

/**
 * Semantic checks once the shape is right: the code is in our table, the observation
 * kind matches it, the unit is allowed for it, the value is plausible. First failure wins.
 */
export function validateObservations(r: Reading): ReadingError | undefined {
  for (const [i, o] of r.observations.entries()) {
    const err = validateObservation(o, `obs[${i}]`);
    if (err !== undefined) return err;
  }
  return undefined;
}

function validateObservation(o: Observation, path: string): ReadingError | undefined {
  const entry = codeByMdc(o.code);
  if (entry === undefined) {
    return new ReadingError(ReadingReason.UnknownCode, `${path}.code`, `unknown code ${o.code}`);
  }
  if (entry.kind !== o.kind) {
    return new ReadingError(
      ReadingReason.Schema,
      path,
      `${entry.refId} is a ${entry.kind} code; a ${o.kind} observation cannot carry it`,
    );
  }
  const unit = unitSpec(entry, o.unit);
  if (unit === undefined) {
    const allowed = entry.units.map((u) => u.ucum).join(', ');
    return new ReadingError(
      ReadingReason.UnitMismatch,
      `${path}.unit`,
      `unit '${o.unit}' is not allowed for ${entry.refId} (allowed: ${allowed})`,
    );
  }
  if (o.kind === 'numeric') {
    if (compareDecimal(o.value, unit.min) < 0 || compareDecimal(o.value, unit.max) > 0) {
      return outOfRange(`${path}.value`, entry.refId, unit.min, unit.max);
    }
    return undefined;
  }
  if (o.scale.mantissa <= 0) {
    return new ReadingError(ReadingReason.Schema, `${path}.scale`, 'scale must be positive');
  }
  // With a positive scale, only the extreme samples can leave the range.
  let lo = 0;
  let hi = 0;
  for (const [k, s] of o.samples.entries()) {
    if (k === 0 || s < lo) lo = s;
    if (k === 0 || s > hi) hi = s;
  }
  const low = multiplyDecimal({ mantissa: lo, exponent: 0 }, o.scale);
  const high = multiplyDecimal({ mantissa: hi, exponent: 0 }, o.scale);
  if (compareBig(low, unit.min) < 0 || compareBig(high, unit.max) > 0) {
    return outOfRange(`${path}.samples`, entry.refId, unit.min, unit.max);
  }
  return undefined;
}

function outOfRange(path: string, refId: string, min: Decimal, max: Decimal): ReadingError {
  const f = (d: Decimal) => `${d.mantissa}e${d.exponent}`;
  return new ReadingError(
    ReadingReason.OutOfRange,
    path,
    `value outside the plausible range of ${refId} [${f(min)}, ${f(max)}]`,
  );
}

/** Device clock minus gateway receive time, and whether it exceeds the allowed skew. */
export function clockSkew(
  deviceTime: number,
  receivedAt: number,
  maxSkewMs: number,
): { skewMs: number; skewed: boolean } {
  const skewMs = deviceTime - receivedAt;
  return { skewMs, skewed: Math.abs(skewMs) > maxSkewMs };
}
