import { codeByRefId } from '../core/codes.js';
import type { Decimal } from '../core/decimal.js';
import type { Observation } from '../core/reading.js';
import { ECG_PERIOD_US, ECG_SAMPLE_RATE_HZ, ECG_SCALE, EcgGenerator } from './ecg.js';
import type { Patient } from './patient.js';
import { hashSeed, uniformAt } from './random.js';

/**
 * The device kinds: what each measures, how often, and how it rounds. Codes and units
 * come from core's table (codes.ts); every value is an exact decimal at the device's
 * resolution (SpO2 1 %, rates 1/min, pressures 1 mmHg, temperature 0.1 °C, glucose
 * 1 mg/dL or 0.1 mmol/L).
 */

export const DEVICE_KINDS = ['ox', 'ecg', 'nibp', 'temp', 'glu'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

export function isDeviceKind(s: string): s is DeviceKind {
  return (DEVICE_KINDS as readonly string[]).includes(s);
}

export const KIND_NAMES: Record<DeviceKind, string> = {
  ox: 'pulse oximeter',
  ecg: 'ECG (lead II)',
  nibp: 'NIBP cuff',
  temp: 'thermometer',
  glu: 'glucose meter',
};

/** Default interval between readings at rateMultiplier 1, ms. */
export const KIND_PERIOD_MS: Record<DeviceKind, number> = {
  ox: 1000,
  ecg: 250,
  nibp: 30_000,
  temp: 15_000,
  glu: 60_000,
};

/** The MDC code of a table entry, by reference id; throws if core's table lost it. */
export function mdc(refId: string): number {
  const e = codeByRefId(refId);
  if (e === undefined) throw new TypeError(`simulators: ${refId} is not in core/codes.ts`);
  return e.mdc;
}

export const CODES = {
  spo2: mdc('MDC_PULS_OXIM_SAT_O2'),
  pulseRate: mdc('MDC_PULS_OXIM_PULS_RATE'),
  ecgII: mdc('MDC_ECG_ELEC_POTL_II'),
  ecgHeartRate: mdc('MDC_ECG_HEART_RATE'),
  systolic: mdc('MDC_PRESS_BLD_NONINV_SYS'),
  diastolic: mdc('MDC_PRESS_BLD_NONINV_DIA'),
  mean: mdc('MDC_PRESS_BLD_NONINV_MEAN'),
  temperature: mdc('MDC_TEMP_BODY'),
  glucose: mdc('MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD'),
} as const;

/** value rounded to `places` decimals, as an exact decimal. */
export function quantise(value: number, places: number): Decimal {
  const m = Math.round(value * 10 ** places);
  return { mantissa: m === 0 ? 0 : m, exponent: places === 0 ? 0 : -places };
}

function numeric(code: number, value: Decimal, unit: string): Observation {
  return { kind: 'numeric', code, value, unit };
}

export interface SourceOptions {
  readonly glucoseUnit?: 'mg/dL' | 'mmol/L';
}

/** What a device measures at one slot of its schedule. */
export interface SignalSource {
  /** Device-schedule time of slot i relative to the device's start, ms (rate 1). */
  slotOffsetMs(i: number): number;
  /** Observations for slot i, measured at tMs (signal time). */
  observations(i: number, tMs: number, seq: number): Observation[];
  /** Observations outside the schedule (bursts); the ECG sends its heart rate only, so its
   * waveform stays one contiguous signal. */
  snapshot(tMs: number, seq: number): Observation[];
}

/** Measurement noise of one reading: uniform in ±amplitude, fixed by (seed, seq, channel). */
function jitter(seed: number, seq: number, channel: string, amplitude: number): number {
  return amplitude * (uniformAt(seed, seq, channel) * 2 - 1);
}

/** ECG frames: 250 Hz samples every 250 ms is 62.5 per frame, so 63 and 62 alternate. */
const SAMPLES_PER_FRAME = ECG_SAMPLE_RATE_HZ / 4;
const SAMPLE_MS = 1000 / ECG_SAMPLE_RATE_HZ;
const firstSample = (i: number) => Math.ceil(i * SAMPLES_PER_FRAME);

export function createSource(
  kind: DeviceKind,
  patient: Patient,
  deviceSeed: number,
  startMs: number,
  opts: SourceOptions = {},
): SignalSource {
  const seed = hashSeed(deviceSeed, 'measure');
  const every = (period: number) => (i: number) => i * period;
  const withSnapshot = (s: Omit<SignalSource, 'snapshot'>): SignalSource => ({
    ...s,
    snapshot: (t, seq) => s.observations(0, t, seq),
  });
  switch (kind) {
    case 'ox':
      return withSnapshot({
        slotOffsetMs: every(KIND_PERIOD_MS.ox),
        observations: (_i, t, seq) => {
          const v = patient.vitals(t);
          return [
            numeric(CODES.spo2, quantise(v.spo2 + jitter(seed, seq, 's', 0.6), 0), '%'),
            numeric(CODES.pulseRate, quantise(v.heartRate + jitter(seed, seq, 'p', 1), 0), '/min'),
          ];
        },
      });
    case 'ecg': {
      const gen = new EcgGenerator(patient, deviceSeed, startMs);
      const heartRate = (t: number) =>
        numeric(CODES.ecgHeartRate, quantise(patient.vitals(t).heartRate, 0), '/min');
      return {
        snapshot: (t) => [heartRate(t)],
        slotOffsetMs: (i) => firstSample(i) * SAMPLE_MS,
        observations: (i, t) => {
          const first = firstSample(i);
          const count = firstSample(i + 1) - first;
          const samples = gen.frame(startMs + first * SAMPLE_MS, count);
          const obs: Observation[] = [
            {
              kind: 'waveform',
              code: CODES.ecgII,
              samples,
              periodUs: ECG_PERIOD_US,
              scale: ECG_SCALE,
              unit: 'mV',
            },
          ];
          // Heart rate once a second, with every fourth frame.
          if (i % 4 === 0) obs.push(heartRate(t));
          return obs;
        },
      };
    }
    case 'nibp':
      return withSnapshot({
        slotOffsetMs: every(KIND_PERIOD_MS.nibp),
        observations: (_i, t, seq) => {
          const v = patient.vitals(t);
          const sys = Math.round(v.systolic + jitter(seed, seq, 'sys', 2));
          const dia = Math.round(Math.min(v.diastolic + jitter(seed, seq, 'dia', 2), sys - 15));
          // The cuff reports the oscillometric mean; dia + (sys − dia)/3 approximates it.
          const mean = Math.round(dia + (sys - dia) / 3);
          return [
            numeric(CODES.systolic, quantise(sys, 0), 'mm[Hg]'),
            numeric(CODES.diastolic, quantise(dia, 0), 'mm[Hg]'),
            numeric(CODES.mean, quantise(mean, 0), 'mm[Hg]'),
          ];
        },
      });
    case 'temp':
      return withSnapshot({
        slotOffsetMs: every(KIND_PERIOD_MS.temp),
        observations: (_i, t, seq) => {
          const c = patient.vitals(t).temperature + jitter(seed, seq, 't', 0.05);
          return [numeric(CODES.temperature, quantise(c, 1), 'Cel')];
        },
      });
    case 'glu':
      return withSnapshot({
        slotOffsetMs: every(KIND_PERIOD_MS.glu),
        observations: (_i, t, seq) => {
          // Meters are accurate to about ±5 % (ISO 15197 allows ±15 %).
          const mgdl = patient.vitals(t).glucose * (1 + jitter(seed, seq, 'g', 0.05));
          return opts.glucoseUnit === 'mmol/L'
            ? [numeric(CODES.glucose, quantise(mgdl / 18.016, 1), 'mmol/L')]
            : [numeric(CODES.glucose, quantise(mgdl, 0), 'mg/dL')];
        },
      });
  }
}
