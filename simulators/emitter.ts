import type { Reading } from '../core/reading.js';
import type { SimDevice } from './device.js';
import type { PayloadFormat } from './encode.js';
import {
  burst,
  duplicate,
  type FaultName,
  type FaultOptions,
  foreignTopic,
  garbage,
  isFaultName,
  type OutMessage,
  outOfRange,
  oversize,
  replay,
  skew,
  truncated,
  unknownCode,
  validMessage,
  wrongUnit,
} from './faults.js';
import { hashSeed, mulberry32 } from './random.js';

/** Fault name → probability per scheduled reading (0..1). */
export type FaultRates = Partial<Record<FaultName, number>>;

export interface EmitterOptions {
  readonly format?: PayloadFormat;
  readonly faults?: FaultRates;
  readonly faultOptions?: FaultOptions;
  /** Device ids 'foreign-topic' may publish as; default `${id}-other`. */
  readonly peers?: readonly string[];
}

/**
 * Turns a device's readings into MQTT messages, with faults drawn at their rates from the
 * device's seed (at most one per scheduled reading) or injected on demand. A fault that
 * spoils a reading replaces it and keeps its seq, so the seqs a device sends are
 * 1, 2, 3, … with no hole; 'replay', 'duplicate' and 'burst' add messages to the
 * scheduled one.
 */
export class DeviceEmitter {
  readonly device: SimDevice;
  readonly format: PayloadFormat;
  private readonly rates: readonly (readonly [FaultName, number])[];
  private readonly faultOptions: FaultOptions;
  private readonly peers: readonly string[];
  private readonly rand: () => number;

  constructor(device: SimDevice, opts: EmitterOptions = {}) {
    this.device = device;
    this.format = opts.format ?? 'cbor';
    const rates: [FaultName, number][] = [];
    for (const [name, rate] of Object.entries(opts.faults ?? {})) {
      if (!isFaultName(name)) throw new RangeError(`unknown fault '${name}'`);
      if (rate === undefined) continue;
      if (!(rate >= 0 && rate <= 1)) throw new RangeError(`fault rate of ${name} must be 0..1`);
      rates.push([name, rate]);
    }
    this.rates = rates;
    this.faultOptions = opts.faultOptions ?? {};
    const peers = (opts.peers ?? []).filter((p) => p !== device.id);
    this.peers = peers.length > 0 ? peers : [`${device.id}-other`];
    this.rand = mulberry32(hashSeed(device.seed, 'faults'));
  }

  /** Messages for every scheduled reading due at `now`. */
  due(now?: number): OutMessage[] {
    const out: OutMessage[] = [];
    for (const r of this.device.due(now)) out.push(...this.withFaults(r));
    return out;
  }

  /** Messages for the next scheduled reading, whatever the clock says. */
  step(): OutMessage[] {
    return this.withFaults(this.device.next());
  }

  /** One fault now, outside the schedule (a fresh seq where the fault needs a reading). */
  inject(fault: FaultName, now: number = this.device.clock()): OutMessage[] {
    return this.apply(fault, this.device.extra(now));
  }

  private withFaults(r: Reading): OutMessage[] {
    let chosen: FaultName | undefined;
    for (const [name, rate] of this.rates) {
      // Always draw, so one fault's rate does not shift another's sequence.
      const hit = this.rand() < rate;
      if (hit && chosen === undefined) chosen = name;
    }
    return chosen === undefined ? [validMessage(r, this.format)] : this.apply(chosen, r);
  }

  private apply(fault: FaultName, r: Reading): OutMessage[] {
    const f = this.format;
    switch (fault) {
      case 'garbage':
        return [garbage(r, f, this.rand)];
      case 'truncated':
        return [truncated(r, f, this.rand)];
      case 'out-of-range':
        return [outOfRange(r, f)];
      case 'unknown-code':
        return [unknownCode(r, f)];
      case 'wrong-unit':
        return [wrongUnit(r, f)];
      case 'oversize':
        return [oversize(r, f, this.faultOptions)];
      case 'skew':
        return [skew(r, f, this.faultOptions)];
      case 'foreign-topic': {
        const other = this.peers[Math.floor(this.rand() * this.peers.length)]!;
        return [foreignTopic(r, f, other)];
      }
      case 'replay': {
        // An earlier seq (up to 50 back); the very first reading replays itself.
        const back = Math.min(50, r.seq - 1);
        const old = back === 0 ? r.seq : r.seq - 1 - Math.floor(this.rand() * back);
        return [validMessage(r, f), replay(r, f, old)];
      }
      case 'duplicate': {
        const m = validMessage(r, f);
        return [m, duplicate(m)];
      }
      case 'burst': {
        const n = Math.max(1, this.faultOptions.burstSize ?? 20);
        const extra = Array.from({ length: n - 1 }, () => this.device.extra(r.deviceTime));
        return burst([r, ...extra], f);
      }
    }
  }
}
