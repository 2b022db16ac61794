import { formatDecimal } from '../core/decimal.js';
import type { WaveformObservation } from '../core/reading.js';
import { FhirDecimal } from './decimal.js';
import {
  DEFAULT_STRIP_MS,
  type Mapped,
  type MappingOptions,
  mapped,
  origin,
  type SealedReading,
} from './observation.js';
import { conceptOf, ECG_LOINC, entryOf } from './terminology.js';

/**
 * Waveform frames → strips: consecutive frames of one device and code are joined into
 * one Observation whose SampledData covers `stripMs` (default 10 s), as a clinician
 * reads an ECG, instead of one Observation per 250 ms frame. A strip ends early at a
 * gap (a missing seq, device time not continuing the previous frame, a change of
 * patient, rate, scale or unit), and at the end of the export.
 */

interface Frame {
  readonly s: SealedReading;
  readonly w: WaveformObservation;
}

interface OpenStrip {
  readonly frames: Frame[];
  samples: number;
}

/** MDC_ECG_ELEC_POTL_*: the ECG leads, which get the ECG LOINC beside their MDC code. */
const ECG_LEADS: ReadonlySet<number> = new Set([131330]);

export class StripBuilder {
  readonly #open = new Map<string, OpenStrip>();
  readonly #opts: MappingOptions;
  readonly #stripUs: number;

  constructor(opts: MappingOptions = {}) {
    const ms = opts.stripMs ?? DEFAULT_STRIP_MS;
    if (!Number.isSafeInteger(ms) || ms <= 0)
      throw new RangeError(`stripMs ${ms}: a whole number of ms, above 0`);
    this.#opts = opts;
    this.#stripUs = ms * 1000;
  }

  /** Adds a reading's waveforms; returns the strips this completes. */
  add(s: SealedReading): Mapped[] {
    const out: Mapped[] = [];
    for (const w of s.reading.observations) {
      if (w.kind !== 'waveform') continue;
      const key = `${s.reading.deviceId}\u0000${w.code}`;
      let open = this.#open.get(key);
      if (open !== undefined && !continues(open, s, w)) {
        out.push(this.#strip(open));
        open = undefined;
      }
      if (open === undefined) {
        open = { frames: [], samples: 0 };
        this.#open.set(key, open);
      }
      open.frames.push({ s, w });
      open.samples += w.samples.length;
      if (open.samples * w.periodUs >= this.#stripUs) {
        out.push(this.#strip(open));
        this.#open.delete(key);
      }
    }
    return out;
  }

  /** The strips still open, each as it is. */
  finish(): Mapped[] {
    const out = [...this.#open.values()].map((o) => this.#strip(o));
    this.#open.clear();
    return out;
  }

  #strip(open: OpenStrip): Mapped {
    const [first] = open.frames;
    if (first === undefined) throw new TypeError('a strip has at least one frame');
    const { w } = first;
    const c = conceptOf(entryOf(w.code), w.unit);
    const concept = ECG_LEADS.has(w.code) ? { coding: [ECG_LOINC, ...c.coding], text: c.text } : c;
    const data = open.frames.map((f) => Array.from(f.w.samples).join(' ')).join(' ');
    return mapped(
      open.frames.map((f) => f.s),
      { deviceId: first.s.reading.deviceId, mdc: w.code, ucum: w.unit },
      concept,
      {
        // Physical value of sample i = origin + data[i] × factor (FHIR SampledData), in `unit`.
        valueSampledData: {
          origin: origin(w),
          period: FhirDecimal.trimmed({ mantissa: w.periodUs, exponent: -3 }),
          factor: FhirDecimal.of(w.scale),
          dimensions: 1,
          data,
        },
      },
      this.#opts,
    );
  }
}

function continues(open: OpenStrip, s: SealedReading, w: WaveformObservation): boolean {
  const last = open.frames[open.frames.length - 1];
  if (last === undefined) return false;
  const p = last.s.reading;
  const r = s.reading;
  const expectedMs = p.deviceTime + (last.w.samples.length * last.w.periodUs) / 1000;
  return (
    r.seq === p.seq + 1 &&
    r.patient === p.patient &&
    w.periodUs === last.w.periodUs &&
    w.unit === last.w.unit &&
    formatDecimal(w.scale) === formatDecimal(last.w.scale) &&
    // Device time is whole ms: allow the rounding of one sample period.
    Math.abs(r.deviceTime - expectedMs) <= w.periodUs / 1000
  );
}
