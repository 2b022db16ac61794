import { FhirDecimal } from './decimal.js';

/**
 * One resource as one line of NDJSON (FHIR Bulk Data: application/fhir+ndjson). Like
 * JSON.stringify, except that a FhirDecimal is written as a bare JSON number from its
 * exact text, and undefined properties are left out.
 */
export function ndjsonLine(resource: object): string {
  return `${write(resource)}\n`;
}

function write(v: unknown): string {
  if (v instanceof FhirDecimal) return v.text;
  if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
  if (typeof v === 'number') {
    // Integers only: every non-integer value medchain emits is a FhirDecimal.
    if (!Number.isSafeInteger(v)) throw new TypeError(`ndjson: ${v} is not a safe integer`);
    return String(v);
  }
  if (Array.isArray(v)) return `[${v.map(write).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v)) {
      if (x !== undefined) parts.push(`${JSON.stringify(k)}:${write(x)}`);
    }
    return `{${parts.join(',')}}`;
  }
  throw new TypeError(`ndjson: cannot write a ${typeof v}`);
}
