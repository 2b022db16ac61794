/**
 * Exact decimals: value = mantissa × 10^exponent, as IEEE 11073-20601 FLOAT-Type does
 * (there: 24-bit mantissa, 8-bit exponent; here: safe-integer mantissa, int8 exponent).
 * No float ever holds a reading value; comparisons run on bigint.
 *
 * Trailing zeros are significant and kept ("97.50" is 9750e-2, not 975e-1): they state
 * the device's resolution, as FHIR Quantity.value's precision does.
 */
export interface Decimal {
  readonly mantissa: number;
  readonly exponent: number;
}

export const EXPONENT_MIN = -128;
export const EXPONENT_MAX = 127;
/** Longest decimal string accepted; guards the regex and BigInt work against megabyte digits. */
export const DECIMAL_STRING_MAX = 40;

export function isDecimal(d: Decimal): boolean {
  return (
    Number.isSafeInteger(d.mantissa) &&
    Number.isInteger(d.exponent) &&
    d.exponent >= EXPONENT_MIN &&
    d.exponent <= EXPONENT_MAX
  );
}

// JSON-number-like grammar without float parsing: sign, integer part, fraction, exponent.
const DECIMAL_RE = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]{1,4}))?$/;

/**
 * Parses "97.5", "-0.25", "1e3", "1.5E-2", "120". Returns undefined when the text is not
 * a decimal or does not fit (mantissa beyond 2^53-1, exponent outside int8).
 */
export function parseDecimal(text: string): Decimal | undefined {
  if (text.length === 0 || text.length > DECIMAL_STRING_MAX) return undefined;
  const m = DECIMAL_RE.exec(text);
  if (m === null) return undefined;
  const [, sign, int = '', frac = '', exp = '0'] = m;
  const digits = BigInt(`${sign}${int}${frac}`);
  if (digits > BigInt(Number.MAX_SAFE_INTEGER) || digits < BigInt(Number.MIN_SAFE_INTEGER)) {
    return undefined;
  }
  const exponent = Number.parseInt(exp, 10) - frac.length;
  if (exponent < EXPONENT_MIN || exponent > EXPONENT_MAX) return undefined;
  // "-0" and "-0.0" are zero; a negative zero mantissa would not survive CBOR anyway.
  const mantissa = digits === 0n ? 0 : Number(digits);
  return { mantissa, exponent };
}

/** Plain decimal text without exponent notation: {975,-1} → "97.5", {12,2} → "1200". */
export function formatDecimal(d: Decimal): string {
  const neg = d.mantissa < 0;
  const digits = String(Math.abs(d.mantissa));
  let out: string;
  if (d.exponent >= 0) {
    out = digits === '0' ? '0' : digits + '0'.repeat(d.exponent);
  } else {
    const places = -d.exponent;
    const padded = digits.padStart(places + 1, '0');
    out = `${padded.slice(0, padded.length - places)}.${padded.slice(padded.length - places)}`;
  }
  return neg ? `-${out}` : out;
}

/** Exact three-way comparison: -1, 0 or 1. */
export function compareDecimal(a: Decimal, b: Decimal): -1 | 0 | 1 {
  const e = Math.min(a.exponent, b.exponent);
  const x = BigInt(a.mantissa) * 10n ** BigInt(a.exponent - e);
  const y = BigInt(b.mantissa) * 10n ** BigInt(b.exponent - e);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Exact product of two decimals as bigint mantissa and exponent (for sample × scale). */
export function multiplyDecimal(a: Decimal, b: Decimal): { mantissa: bigint; exponent: number } {
  return { mantissa: BigInt(a.mantissa) * BigInt(b.mantissa), exponent: a.exponent + b.exponent };
}

/** Exact comparison of a bigint-mantissa decimal with a Decimal. */
export function compareBig(a: { mantissa: bigint; exponent: number }, b: Decimal): -1 | 0 | 1 {
  const e = Math.min(a.exponent, b.exponent);
  const x = a.mantissa * 10n ** BigInt(a.exponent - e);
  const y = BigInt(b.mantissa) * 10n ** BigInt(b.exponent - e);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Shorthand for tables: dec('97.5'). Throws on a bad literal, so only for constants. */
export function dec(text: string): Decimal {
  const d = parseDecimal(text);
  if (d === undefined) throw new TypeError(`not a decimal literal: ${text}`);
  return d;
}
