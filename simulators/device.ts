import type { Reading } from '../core/reading.js';
import { DEFAULT_READING_LIMITS, DEVICE_ID_RE, PATIENT_RE } from '../core/reading-schema.js';
import { DEFAULT_EVENTS, type EventConfig } from './events.js';
import {
  createSource,
  type DeviceKind,
  isDeviceKind,
  KIND_PERIOD_MS,
  type SignalSource,
} from './kinds.js';
import { Patient } from './patient.js';
import { hashSeed, uniformAt } from './random.js';

/** Device time source, ms since the epoch. Injectable so tests drive time themselves. */
export type Clock = () => number;

export interface DeviceSpec {
  readonly kind: DeviceKind;
  /** Device id: also the MQTT username and the topic level of med/v1/dev/{id}/obs. */
  readonly id: string;
  /** Opaque patient reference (never a name). */
  readonly patient: string;
  /** MQTT password. */
  readonly secret?: string;
}

export interface SimDeviceOptions {
  readonly seed?: number;
  readonly clock?: Clock;
  /** > 0; divides every schedule period (2 → twice as many readings per second). */
  readonly rateMultiplier?: number;
  /** Schedule origin (device time); default clock() at construction. */
  readonly startMs?: number;
  /** Shared patient model; default one built from (seed, spec.patient). */
  readonly patientModel?: Patient;
  readonly events?: EventConfig;
  readonly glucoseUnit?: 'mg/dL' | 'mmol/L';
  /** Most readings one due() call returns; a stalled caller skips the rest. Default 1000. */
  readonly maxCatchUp?: number;
}

/**
 * A device without a network: a schedule, a signal source, a sequence counter. seq
 * starts at 1 and only grows; it belongs to the device, not to a connection, so it
 * survives reconnects. Deterministic for a given seed and order of calls.
 */
export class SimDevice {
  readonly spec: DeviceSpec;
  readonly seed: number;
  readonly clock: Clock;
  readonly rate: number;
  private origin: number;
  readonly patient: Patient;
  private readonly glucoseUnit: 'mg/dL' | 'mmol/L' | undefined;
  private source: SignalSource;
  private readonly maxCatchUp: number;
  /** Stagger so a fleet's devices do not all fire in the same millisecond. */
  private readonly phaseMs: number;
  private slot = 0;
  private seq = 1;
  /** Slots skipped because the caller fell behind (see maxCatchUp). */
  skipped = 0;

  constructor(spec: DeviceSpec, opts: SimDeviceOptions = {}) {
    assertSpec(spec);
    const rate = opts.rateMultiplier ?? 1;
    if (!(rate > 0 && Number.isFinite(rate))) {
      throw new RangeError(`rateMultiplier must be a positive number, got ${rate}`);
    }
    this.spec = spec;
    this.seed = hashSeed(opts.seed ?? 1, 'device', spec.id);
    this.clock = opts.clock ?? Date.now;
    this.rate = rate;
    this.origin = opts.startMs ?? this.clock();
    this.patient =
      opts.patientModel ?? new Patient(spec.patient, opts.seed ?? 1, opts.events ?? DEFAULT_EVENTS);
    this.glucoseUnit = opts.glucoseUnit;
    this.source = this.makeSource();
    this.maxCatchUp = opts.maxCatchUp ?? 1000;
    // Within the first second (at rate 1): a cuff or a meter measures when switched on.
    const spread = Math.min(KIND_PERIOD_MS[spec.kind], 1000) / rate;
    this.phaseMs = Math.floor(uniformAt(this.seed, 'phase') * spread);
  }

  private makeSource(): SignalSource {
    const opts = this.glucoseUnit === undefined ? {} : { glucoseUnit: this.glucoseUnit };
    return createSource(this.spec.kind, this.patient, this.seed, this.origin, opts);
  }

  /** Schedule origin (device time). */
  get startMs(): number {
    return this.origin;
  }

  /**
   * Switched on at `now`: the schedule starts again from there. Only before the first
   * reading; afterwards see skipUntil.
   */
  startAt(now: number): void {
    if (this.slot !== 0 || this.seq !== 1) throw new Error(`${this.id} has already measured`);
    this.origin = now;
    this.source = this.makeSource();
  }

  get id(): string {
    return this.spec.id;
  }

  get kind(): DeviceKind {
    return this.spec.kind;
  }

  /** The seq the next reading will carry. */
  get nextSeq(): number {
    return this.seq;
  }

  /** Takes a seq number (for readings made outside the schedule: bursts). */
  takeSeq(): number {
    return this.seq++;
  }

  /** Device time of the next scheduled reading. */
  nextDueMs(): number {
    return this.slotTime(this.slot);
  }

  private slotTime(i: number): number {
    return this.origin + this.phaseMs + Math.round(this.source.slotOffsetMs(i) / this.rate);
  }

  /** The next scheduled reading, whatever the clock says (tests and step mode). */
  next(): Reading {
    const t = this.slotTime(this.slot);
    const seq = this.seq++;
    const observations = this.source.observations(this.slot, t, seq);
    this.slot++;
    return { deviceId: this.spec.id, seq, deviceTime: t, patient: this.spec.patient, observations };
  }

  /**
   * Every scheduled reading due at `now` (device time), oldest first. Lazy, so a reading
   * made between two yields (a burst) takes the seq after the one just yielded.
   */
  *due(now: number = this.clock()): Generator<Reading, void, undefined> {
    let n = 0;
    while (this.slotTime(this.slot) <= now) {
      if (n++ >= this.maxCatchUp) {
        // A device that fell this far behind measures now, not in the past.
        while (this.slotTime(this.slot) <= now) {
          this.slot++;
          this.skipped++;
        }
        return;
      }
      yield this.next();
    }
  }

  /** Moves the schedule past slots before `now` without measuring (a device switched on late). */
  skipUntil(now: number): void {
    while (this.slotTime(this.slot) < now) this.slot++;
  }

  /** A reading outside the schedule, measured now, with a fresh seq (bursts). */
  extra(now: number = this.clock()): Reading {
    const seq = this.seq++;
    return {
      deviceId: this.spec.id,
      seq,
      deviceTime: now,
      patient: this.spec.patient,
      observations: this.source.snapshot(now, seq),
    };
  }
}

/** A device id becomes a topic level and a payload field: core's syntax, or refused here. */
function assertSpec(spec: DeviceSpec): void {
  const max = DEFAULT_READING_LIMITS.maxDeviceIdLength;
  if (!DEVICE_ID_RE.test(spec.id) || spec.id.length > max) {
    throw new RangeError(`spec.id '${spec.id}': 1..${max} of [A-Za-z0-9._:-]`);
  }
  if (
    !PATIENT_RE.test(spec.patient) ||
    spec.patient.length > DEFAULT_READING_LIMITS.maxPatientLength
  ) {
    throw new RangeError(`spec.patient '${spec.patient}': 1..64 printable ASCII, no space`);
  }
  if (!isDeviceKind(spec.kind)) throw new RangeError(`spec.kind '${String(spec.kind)}' unknown`);
}
