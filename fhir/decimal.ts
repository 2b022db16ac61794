import { type Decimal, formatDecimal } from '../core/decimal.js';

/**
 * A FHIR decimal held as its exact text, so serialising never goes through a binary
 * float: 97.50 stays "97.50" (FHIR keeps the precision a decimal is written with) and
 * 0.1 + 0.2 never happens. ndjson.ts writes the text as a bare JSON number.
 */
export class FhirDecimal {
  readonly text: string;
  private constructor(text: string) {
    this.text = text;
  }

  /** The device's value exactly, trailing zeros included: they state its resolution. */
  static of(d: Decimal): FhirDecimal {
    return new FhirDecimal(formatDecimal(d));
  }

  /**
   * mantissa × 10^exponent without trailing zeros after the point: for unit conversions
   * (µs → ms), where the zeros say nothing about precision.
   */
  static trimmed(d: { mantissa: number; exponent: number }): FhirDecimal {
    let { mantissa, exponent } = d;
    while (exponent < 0 && mantissa !== 0 && mantissa % 10 === 0) {
      mantissa /= 10;
      exponent += 1;
    }
    return new FhirDecimal(formatDecimal({ mantissa, exponent: mantissa === 0 ? 0 : exponent }));
  }
}
