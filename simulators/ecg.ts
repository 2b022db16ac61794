import type { Patient } from './patient.js';
import { hashSeed, SmoothNoise, uniformAt } from './random.js';

/**
 * A synthetic lead II: each beat is a sum of Gaussian waves P, Q, R, S, T placed around
 * the R peak (the shape of McSharry et al., "A dynamical model for generating synthetic
 * electrocardiogram signals", IEEE TBME 2003), with P and T offsets stretched by
 * sqrt(RR) as Bazett's QT correction does. Beat times follow the patient's heart rate
 * with a little beat-to-beat variability. Stateful: samples must be asked for in order.
 */

export const ECG_SAMPLE_RATE_HZ = 250;
export const ECG_PERIOD_US = 1_000_000 / ECG_SAMPLE_RATE_HZ;
/** One sample step is 5 µV: ±10 mV (core's range) is ±2000, well inside int16. */
export const ECG_SCALE = { mantissa: 5, exponent: -3 } as const;
export const ECG_SCALE_MV = 0.005;
/** Hardware saturation of the simulated front end: ±5 mV. */
const SATURATION_MV = 5;

interface Wave {
  /** Offset from the R peak, ms, at RR = 1 s. */
  readonly at: number;
  /** Gaussian width (sigma), ms. */
  readonly width: number;
  /** Amplitude as a fraction of the R wave. */
  readonly amp: number;
  /** Whether the offset and width stretch with sqrt(RR). */
  readonly stretch: boolean;
}

const WAVES: readonly Wave[] = [
  { at: -190, width: 22, amp: 0.12, stretch: true }, // P
  { at: -28, width: 9, amp: -0.1, stretch: false }, // Q
  { at: 0, width: 11, amp: 1, stretch: false }, // R
  { at: 30, width: 11, amp: -0.22, stretch: false }, // S
  { at: 290, width: 48, amp: 0.28, stretch: true }, // T
];

function beatShape(dtMs: number, rrMs: number, rMv: number): number {
  const s = Math.sqrt(rrMs / 1000);
  let v = 0;
  for (const w of WAVES) {
    const at = w.stretch ? w.at * s : w.at;
    const width = w.stretch ? w.width * s : w.width;
    const x = (dtMs - at) / width;
    if (Math.abs(x) < 6) v += w.amp * rMv * Math.exp(-0.5 * x * x);
  }
  return v;
}

export class EcgGenerator {
  private readonly patient: Patient;
  private readonly seed: number;
  private prevR: number;
  private nextR: number;
  private prevRR: number;
  private nextRR: number;
  private beat = 0;
  private readonly wander: SmoothNoise;

  constructor(patient: Patient, seed: number, startMs: number) {
    this.patient = patient;
    this.seed = hashSeed(seed, 'ecg');
    this.wander = new SmoothNoise(hashSeed(this.seed, 'wander'), 3000);
    this.prevRR = this.rrAt(startMs);
    this.prevR = startMs - this.prevRR * uniformAt(this.seed, 'phase');
    this.nextRR = this.rrAt(this.prevR + this.prevRR);
    this.nextR = this.prevR + this.prevRR;
  }

  /** RR interval at a moment: the patient's rate, ±3 % beat-to-beat variability. */
  private rrAt(tMs: number): number {
    const hr = this.patient.vitals(tMs).heartRate;
    this.beat++;
    return (60_000 / hr) * (1 + 0.03 * (uniformAt(this.seed, this.beat) * 2 - 1));
  }

  /** Lead II in mV at tMs; tMs must not go backwards between calls. */
  sampleMv(tMs: number): number {
    while (tMs >= this.nextR) {
      this.prevR = this.nextR;
      this.prevRR = this.nextRR;
      this.nextRR = this.rrAt(this.nextR);
      this.nextR = this.prevR + this.prevRR;
    }
    const r = this.patient.baseline.rWaveMv;
    const wander = 0.06 * this.wander.at(tMs);
    const noise = 0.01 * (uniformAt(this.seed, 'n', Math.round(tMs * 4)) * 2 - 1);
    const v =
      beatShape(tMs - this.prevR, this.prevRR, r) +
      beatShape(tMs - this.nextR, this.nextRR, r) +
      wander +
      noise;
    return Math.max(-SATURATION_MV, Math.min(SATURATION_MV, v));
  }

  /** Samples at tMs + i × 4 ms as int16 counts of ECG_SCALE. */
  frame(startMs: number, count: number): Int16Array {
    const out = new Int16Array(count);
    const step = 1000 / ECG_SAMPLE_RATE_HZ;
    for (let i = 0; i < count; i++) {
      out[i] = Math.round(this.sampleMv(startMs + i * step) / ECG_SCALE_MV);
    }
    return out;
  }
}
