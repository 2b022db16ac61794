import { DEFAULT_EVENTS, type EventConfig, type EventKind, eventLevels } from './events.js';
import { between, hashSeed, mulberry32, smoothNoise } from './random.js';

/**
 * One simulated patient: a baseline drawn from the seed plus slow smooth drifts, a
 * circadian temperature swing and occasional events. vitals(t) is a pure function of
 * (seed, t): the oximeter, the ECG and the cuff of one patient agree with each other.
 * Values are floats in physiological units; kinds.ts quantises them to exact decimals.
 */

export interface Vitals {
  /** Heart rate, beats/min. */
  readonly heartRate: number;
  /** Peripheral oxygen saturation, %. */
  readonly spo2: number;
  /** Non-invasive blood pressure, mmHg. */
  readonly systolic: number;
  readonly diastolic: number;
  /** Core body temperature, °C. */
  readonly temperature: number;
  /** Capillary glucose, mg/dL. */
  readonly glucose: number;
  /** Events in progress with their level (0..1]. */
  readonly events: Partial<Record<EventKind, number>>;
}

export interface Baseline {
  readonly heartRate: number;
  readonly spo2: number;
  readonly systolic: number;
  readonly diastolic: number;
  readonly temperature: number;
  readonly glucose: number;
  /** R-wave amplitude of this patient's lead II, mV. */
  readonly rWaveMv: number;
}

/**
 * Physiological bounds every model value is clamped to. Each lies well inside core's
 * plausible range (codes.ts), so a simulated value is never refused as 'out-of-range'.
 */
export const PHYSIO_BOUNDS = {
  heartRate: [30, 220],
  spo2: [70, 100],
  systolic: [70, 240],
  diastolic: [35, 140],
  temperature: [34, 41.5],
  glucose: [30, 450],
} as const;

const clamp = (v: number, [lo, hi]: readonly [number, number]) => Math.min(hi, Math.max(lo, v));

const MIN = 60_000;
const HOUR = 60 * MIN;

export class Patient {
  readonly id: string;
  readonly seed: number;
  readonly baseline: Baseline;
  readonly events: EventConfig;

  constructor(id: string, seed: number, events: EventConfig = DEFAULT_EVENTS) {
    this.id = id;
    this.seed = hashSeed(seed, 'patient', id);
    this.events = events;
    const r = mulberry32(this.seed);
    const systolic = between(r, 105, 138);
    this.baseline = {
      heartRate: between(r, 58, 88),
      spo2: between(r, 95, 98.8),
      systolic,
      diastolic: systolic * between(r, 0.58, 0.68),
      temperature: between(r, 36.4, 37.1),
      glucose: between(r, 85, 125),
      rWaveMv: between(r, 0.8, 1.6),
    };
  }

  /** Smooth noise in [-1, 1] of one named channel. */
  private drift(channel: string, tMs: number, periodMs: number): number {
    return smoothNoise(hashSeed(this.seed, channel), tMs, periodMs);
  }

  vitals(tMs: number): Vitals {
    const b = this.baseline;
    const ev = eventLevels(this.seed, tMs, this.events);
    const desat = ev.desaturation ?? 0;
    const tachy = ev.tachycardia ?? 0;
    const hyper = ev.hypertension ?? 0;
    const fever = ev.fever ?? 0;
    const hypo = ev.hypoglycaemia ?? 0;

    const circadian = 0.25 * Math.sin((2 * Math.PI * (tMs - 4 * HOUR)) / (24 * HOUR));
    const feverRise = fever * 2.4; // up to +2.4 °C
    const temperature =
      b.temperature + circadian + 0.15 * this.drift('temp', tMs, 40 * MIN) + feverRise;

    // About +10 beats/min per °C of fever; hypoxia and hypoglycaemia also raise the rate.
    const heartRate =
      b.heartRate +
      7 * this.drift('hr-slow', tMs, 7 * MIN) +
      2.5 * this.drift('hr-fast', tMs, 20_000) +
      tachy * 75 +
      feverRise * 10 +
      desat * 15 +
      hypo * 18;

    const spo2 = b.spo2 + 0.9 * this.drift('spo2', tMs, 3 * MIN) - desat * 16;

    const systolic =
      b.systolic + 9 * this.drift('sys', tMs, 15 * MIN) + hyper * 70 + tachy * 8 + hypo * 6;
    const diastolic = b.diastolic + 6 * this.drift('dia', tMs, 15 * MIN) + hyper * 35 + tachy * 4;

    const normalGlucose = b.glucose + 25 * this.drift('glu', tMs, 50 * MIN);
    // Every hypoglycaemia reaches about 48 mg/dL at its plateau, whatever its severity.
    const h = Math.min(1, hypo / 0.6);
    const glucose = normalGlucose * (1 - h) + 48 * h;

    return {
      heartRate: clamp(heartRate, PHYSIO_BOUNDS.heartRate),
      spo2: clamp(spo2, PHYSIO_BOUNDS.spo2),
      systolic: clamp(systolic, PHYSIO_BOUNDS.systolic),
      diastolic: clamp(Math.min(diastolic, systolic - 20), PHYSIO_BOUNDS.diastolic),
      temperature: clamp(temperature, PHYSIO_BOUNDS.temperature),
      glucose: clamp(glucose, PHYSIO_BOUNDS.glucose),
      events: ev,
    };
  }
}
