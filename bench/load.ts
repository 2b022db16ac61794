/**
 * The one load generator every target gets, built from the simulators: one MQTT 3.1.1
 * connection per device (DeviceClient: QoS 1, persistent session, own credentials),
 * CBOR readings of five device kinds, ECG frames of 62-63 samples among them.
 *
 * Every reading of the run is made before it starts: synthesising an ECG frame costs
 * far more CPU than publishing it, and on a small machine a generator synthesising
 * live would measure itself. Then readings are released on their schedule (open loop,
 * as devices measure whether or not the broker keeps up); past `maxInflight`
 * unanswered messages a device buffers, so PUBACK latency is the broker's.
 */
import { performance } from 'node:perf_hooks';
import { DeviceClient } from '../simulators/client.js';
import { type DeviceSpec, SimDevice } from '../simulators/device.js';
import { DeviceEmitter } from '../simulators/emitter.js';
import type { OutMessage } from '../simulators/faults.js';
import { planDevices } from '../simulators/fleet.js';
import { LatencyHistogram } from '../simulators/histogram.js';
import { type DeviceKind, KIND_PERIOD_MS } from '../simulators/kinds.js';
import { Patient } from '../simulators/patient.js';
import { type Percentiles, percentiles, perSecond } from './latency.js';

export const LOAD_KINDS: readonly DeviceKind[] = ['ecg', 'ox', 'nibp', 'temp', 'glu'];

export interface LoadOptions {
  readonly url: string;
  /** Made by makeReadings; its span covers warm-up and window. */
  readonly readings: Readings;
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly credentials?: (id: string) => string | undefined;
  readonly maxInflight?: number;
  readonly connectTimeoutMs?: number;
  /** Every reading released inside the window: device, seq, wall-clock ms. */
  readonly onPublish?: (deviceId: string, seq: number, atMs: number) => void;
  /** Called as the window opens and as it closes (metric snapshots, RSS sampling). */
  readonly atStart?: () => Promise<void> | void;
  readonly atEnd?: () => Promise<void> | void;
  /** Awaited once every device is connected, before the first release (lines up several generators). */
  readonly connected?: () => Promise<void>;
}

export interface LoadResult {
  readonly devices: number;
  readonly connected: number;
  readonly offeredPerSec: number;
  /** Readings released by the devices per second in the window. */
  readonly publishedPerSec: number;
  /** Positive PUBACKs per second in the window. */
  readonly ackedPerSec: number;
  /** Publish (or release from the device buffer) → PUBACK, acks inside the window. */
  readonly puback: Percentiles;
  readonly meanPayloadBytes: number;
  /** Share of ECG frames among the readings released. */
  readonly ecgShare: number;
  /** Readings waiting in device buffers as the window closed (the target fell behind). */
  readonly deviceBacklog: number;
  /**
   * The target fell behind the offered load (acks below 95 % of releases, or devices
   * buffering): acked/s is then its capacity; otherwise only a lower bound of it.
   */
  readonly saturated: boolean;
  readonly windowMs: number;
}

/** Readings per second of devices of these kinds at rate multiplier 1. */
export function nominalRate(kinds: readonly DeviceKind[]): number {
  return kinds.reduce((s, k) => s + 1000 / KIND_PERIOD_MS[k], 0);
}

export function deviceIds(count: number, idPrefix: string): string[] {
  return planDevices({ count, kinds: LOAD_KINDS, idPrefix }).map((d) => d.id);
}

interface Due {
  /** ms after the schedule origin. */
  readonly at: number;
  readonly device: number;
  readonly msgs: readonly OutMessage[];
}

/** Every reading of a run, made in advance; the same object may drive several targets. */
export interface Readings {
  readonly specs: readonly DeviceSpec[];
  readonly offeredPerSec: number;
  readonly spanMs: number;
  /** In time order. */
  readonly due: readonly Due[];
}

/**
 * The readings `devices` devices (bed by bed: ECG, oximeter, cuff, thermometer, glucose
 * meter) make in `spanMs` at `offeredPerSec` in all. Device times start now.
 */
export function makeReadings(o: {
  devices: number;
  idPrefix: string;
  offeredPerSec: number;
  spanMs: number;
  seed?: number;
}): Readings {
  const seed = o.seed ?? 8;
  const specs = planDevices({ count: o.devices, kinds: LOAD_KINDS, idPrefix: o.idPrefix });
  const rateMultiplier = o.offeredPerSec / nominalRate(specs.map((d) => d.kind));
  const origin = Date.now();
  const patients = new Map<string, Patient>();
  const due: Due[] = [];
  for (const [i, spec] of specs.entries()) {
    let patientModel = patients.get(spec.patient);
    if (patientModel === undefined) {
      patientModel = new Patient(spec.patient, seed);
      patients.set(spec.patient, patientModel);
    }
    const device = new SimDevice(spec, { seed, rateMultiplier, patientModel, startMs: origin });
    const emitter = new DeviceEmitter(device, {});
    for (let t = device.nextDueMs(); t < origin + o.spanMs; t = device.nextDueMs()) {
      due.push({ at: t - origin, device: i, msgs: emitter.step() });
    }
  }
  due.sort((a, b) => a.at - b.at);
  return { specs, offeredPerSec: o.offeredPerSec, spanMs: o.spanMs, due };
}

function connectAll(clients: readonly DeviceClient[], timeoutMs: number): Promise<number> {
  const count = () => clients.filter((c) => c.connected).length;
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(t);
      for (const c of clients) c.off('connect', check);
      resolve(count());
    };
    const check = () => {
      if (count() === clients.length) finish();
    };
    const t = setTimeout(finish, timeoutMs);
    for (const c of clients) c.on('connect', check);
    check();
  });
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const r = o.readings;
  if (o.warmupMs + o.windowMs > r.spanMs) throw new RangeError('runLoad: readings end too soon');
  const clients = r.specs.map((spec) => {
    const secret = o.credentials?.(spec.id);
    // The client's own SimDevice only names it; the readings were made in advance.
    const device = new SimDevice(secret === undefined ? spec : { ...spec, secret });
    return new DeviceClient(device, {
      url: o.url,
      auto: false,
      protocolVersion: 4,
      maxInflight: o.maxInflight ?? 50,
      connectTimeoutMs: o.connectTimeoutMs ?? 20_000,
    });
  });
  try {
    const due = r.due;
    const connected = await connectAll(clients, o.connectTimeoutMs ?? 20_000);
    if (connected === 0) throw new Error(`no device connected to ${o.url}`);
    await o.connected?.();
    const h = new LatencyHistogram();
    let measuring = false;
    let released = 0;
    let acked = 0;
    let bytes = 0;
    let ecg = 0;
    for (const c of clients) {
      c.on('ack', (_m, ms) => {
        if (!measuring) return;
        acked++;
        h.record(ms);
      });
    }
    const release = (d: Due) => {
      const client = clients[d.device]!;
      client.send(d.msgs);
      if (!measuring) return;
      const now = Date.now();
      for (const m of d.msgs) {
        released++;
        bytes += m.payload.length;
        if (client.device.kind === 'ecg') ecg++;
        if (m.seq !== undefined) o.onPublish?.(client.id, m.seq, now);
      }
    };
    // Device times were fixed when the readings were made; they trail the wall clock by
    // the time since (seconds to minutes: inside the gateway's skew limit, or flagged).
    const t0 = performance.now();
    let next = 0;
    const pump = () => {
      const elapsed = performance.now() - t0;
      while (next < due.length && due[next]!.at <= elapsed) release(due[next++]!);
    };
    const timer = setInterval(pump, 5);
    let windowMs = 0;
    try {
      await sleep(o.warmupMs);
      await o.atStart?.();
      measuring = true;
      const w0 = performance.now();
      await sleep(o.windowMs);
      measuring = false;
      windowMs = performance.now() - w0;
      await o.atEnd?.();
    } finally {
      clearInterval(timer);
    }
    const backlog = clients.reduce((s, c) => s + c.stats().backlog, 0);
    return {
      devices: r.specs.length,
      connected,
      offeredPerSec: Math.round(r.offeredPerSec),
      publishedPerSec: perSecond(released, windowMs),
      ackedPerSec: perSecond(acked, windowMs),
      puback: percentiles(h),
      meanPayloadBytes: released > 0 ? Math.round(bytes / released) : 0,
      ecgShare: released > 0 ? Math.round((ecg / released) * 100) / 100 : 0,
      deviceBacklog: backlog,
      saturated: backlog > 0 || acked < 0.95 * released,
      windowMs: Math.round(windowMs),
    };
  } finally {
    await Promise.all(clients.map((c) => c.stop(2000)));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
