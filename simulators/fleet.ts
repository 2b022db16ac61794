import { performance } from 'node:perf_hooks';
import { DeviceClient, type SimLogger } from './client.js';
import type { Clock, DeviceSpec } from './device.js';
import { SimDevice } from './device.js';
import type { FaultRates } from './emitter.js';
import type { PayloadFormat } from './encode.js';
import { DEFAULT_EVENTS, type EventConfig } from './events.js';
import type { FaultOptions } from './faults.js';
import { DEVICE_KINDS, type DeviceKind } from './kinds.js';
import { Patient } from './patient.js';
import { type FleetStats, sumStats } from './stats.js';

/**
 * The load generator: many devices, each its own MQTT client, for tests, the demo and
 * the benchmark. Either an explicit device list, or `count` devices generated bed by
 * bed: device i is kinds[i mod k] of patient ⌊i / k⌋ + 1, named `{prefix}{kind}-{nnnn}`,
 * so one patient's oximeter, ECG and cuff describe the same (simulated) person.
 */

export interface FleetOptions {
  /** Broker URL, e.g. mqtt://127.0.0.1:1883. */
  readonly url: string;
  readonly devices?: readonly DeviceSpec[];
  /** Devices to generate when `devices` is not given. */
  readonly count?: number;
  /** Kinds of the generated devices, in turn. Default all five. */
  readonly kinds?: readonly DeviceKind[];
  /** Prefix of generated device and patient ids (e.g. 'ward3-'). */
  readonly idPrefix?: string;
  /** Secret of a generated device, by id (MQTT password). */
  readonly credentials?: Readonly<Record<string, string>> | ((id: string) => string | undefined);
  readonly rateMultiplier?: number;
  /** Stop by itself after this long (ms). Default: run until stop(). */
  readonly durationMs?: number;
  /** Fault name → probability per scheduled reading. */
  readonly faults?: FaultRates;
  readonly faultOptions?: FaultOptions;
  readonly format?: PayloadFormat;
  readonly seed?: number;
  readonly protocolVersion?: 4 | 5;
  readonly events?: EventConfig;
  readonly clock?: Clock;
  /** Called every statsIntervalMs (default 1000) while running. */
  readonly onStats?: (stats: FleetStats) => void;
  readonly statsIntervalMs?: number;
  readonly maxInflight?: number;
  readonly reconnectPeriodMs?: number;
  readonly connectTimeoutMs?: number;
  /** On stop, how long to wait for outstanding PUBACKs. Default 5000. */
  readonly drainMs?: number;
  readonly log?: SimLogger;
}

export interface FleetHandle {
  readonly devices: readonly DeviceClient[];
  stats(): FleetStats;
  /** Resolves with the number of devices connected, once all are or after timeoutMs. */
  connected(timeoutMs?: number): Promise<number>;
  /** Settles when the fleet has stopped (duration reached or stop() called). */
  readonly done: Promise<FleetStats>;
  /** Stops every device (draining PUBACKs for up to drainMs); idempotent. */
  stop(): Promise<FleetStats>;
}

const pad = (n: number) => String(n).padStart(4, '0');

/** The device list `count` and `kinds` describe (ids, patients, secrets). */
export function planDevices(opts: {
  count: number;
  kinds?: readonly DeviceKind[] | undefined;
  idPrefix?: string | undefined;
  credentials?: FleetOptions['credentials'] | undefined;
}): DeviceSpec[] {
  const kinds = opts.kinds !== undefined && opts.kinds.length > 0 ? opts.kinds : DEVICE_KINDS;
  const prefix = opts.idPrefix ?? '';
  const secretOf =
    typeof opts.credentials === 'function'
      ? opts.credentials
      : (id: string) => (opts.credentials as Record<string, string> | undefined)?.[id];
  return Array.from({ length: opts.count }, (_, i) => {
    const kind = kinds[i % kinds.length]!;
    const bed = Math.floor(i / kinds.length) + 1;
    const id = `${prefix}${kind}-${pad(bed)}`;
    const secret = secretOf(id);
    return {
      kind,
      id,
      patient: `${prefix}pat-${pad(bed)}`,
      ...(secret === undefined ? {} : { secret }),
    };
  });
}

export function startFleet(opts: FleetOptions): FleetHandle {
  const specs =
    opts.devices ??
    planDevices({
      count: opts.count ?? 0,
      kinds: opts.kinds,
      idPrefix: opts.idPrefix,
      credentials: opts.credentials,
    });
  if (specs.length === 0) throw new RangeError('startFleet: no devices (give devices or count)');
  const ids = new Set(specs.map((s) => s.id));
  if (ids.size !== specs.length) throw new RangeError('startFleet: device ids must be unique');

  const seed = opts.seed ?? 1;
  const clock = opts.clock ?? Date.now;
  const patients = new Map<string, Patient>();
  const patientOf = (id: string) => {
    let p = patients.get(id);
    if (p === undefined) {
      p = new Patient(id, seed, opts.events ?? DEFAULT_EVENTS);
      patients.set(id, p);
    }
    return p;
  };
  const peers = [...ids];
  const t0 = performance.now();
  const devices = specs.map((spec) => {
    const sim = new SimDevice(spec, {
      seed,
      clock,
      patientModel: patientOf(spec.patient),
      ...(opts.rateMultiplier === undefined ? {} : { rateMultiplier: opts.rateMultiplier }),
    });
    return new DeviceClient(sim, {
      url: opts.url,
      peers,
      ...pick(opts, [
        'format',
        'faults',
        'faultOptions',
        'protocolVersion',
        'maxInflight',
        'reconnectPeriodMs',
        'connectTimeoutMs',
        'log',
      ]),
    });
  });

  const stats = () =>
    sumStats(
      devices.map((d) => d.stats()),
      devices.map((d) => d.latency),
      performance.now() - t0,
    );

  const ticker =
    opts.onStats === undefined
      ? undefined
      : setInterval(() => opts.onStats?.(stats()), opts.statsIntervalMs ?? 1000);

  let resolveDone: (s: FleetStats) => void = () => undefined;
  const done = new Promise<FleetStats>((r) => {
    resolveDone = r;
  });
  let stopping: Promise<FleetStats> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      clearInterval(ticker);
      clearTimeout(timer);
      await Promise.all(devices.map((d) => d.stop(opts.drainMs ?? 5000)));
      const s = stats();
      resolveDone(s);
      return s;
    })();
    return stopping;
  };
  const timer = opts.durationMs === undefined ? undefined : setTimeout(stop, opts.durationMs);

  const connected = (timeoutMs = 10_000) =>
    new Promise<number>((resolve) => {
      const count = () => devices.filter((d) => d.connected).length;
      const finish = () => {
        clearTimeout(t);
        for (const d of devices) d.off('connect', check);
        resolve(count());
      };
      const check = () => {
        if (count() === devices.length) finish();
      };
      const t = setTimeout(finish, timeoutMs);
      for (const d of devices) d.on('connect', check);
      check();
    });

  return { devices, stats, connected, done, stop };
}

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
