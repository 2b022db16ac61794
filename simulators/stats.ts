import type { FaultName } from './faults.js';
import { LatencyHistogram, type LatencySummary } from './histogram.js';

/** Per-fault counts: messages sent with the fault, and how the broker answered them. */
export interface FaultCounts {
  sent: number;
  acked: number;
  rejected: number;
  abandoned: number;
}

/**
 * Counters of one device (or, summed, of a fleet). A message is counted once in
 * `published` however many times MQTT re-sends it; `resent` counts the re-sends.
 */
export interface Counters {
  /** Messages handed to MQTT (valid readings and faults). */
  published: number;
  /** Positive PUBACKs. */
  acked: number;
  /** MQTT 5 PUBACKs with a reason code ≥ 0x80 (the gateway refused the message). */
  rejected: number;
  /** Faulty messages given up after maxFaultAttempts sends (a broker that drops the link). */
  abandoned: number;
  /** Published, not yet answered (including those waiting offline). */
  inflight: number;
  /** Waiting in the device's own buffer because maxInflight was reached. */
  backlog: number;
  /** Oldest backlog readings dropped because maxBacklog was reached. */
  dropped: number;
  /** PUBLISH packets sent again (after a reconnect). */
  resent: number;
  /** Connections established, first included. */
  connects: number;
  /** Connection errors (refused CONNACK, network errors). */
  errors: number;
  /** Schedule slots skipped because the process fell behind. */
  skipped: number;
}

export interface DeviceStats extends Counters {
  readonly id: string;
  readonly connected: boolean;
  /** Highest seq handed to MQTT. */
  readonly lastSeq: number;
  readonly rejectedByReason: Record<string, number>;
  readonly byFault: Partial<Record<FaultName, FaultCounts>>;
  readonly lastError?: string;
}

export function emptyCounters(): Counters {
  return {
    published: 0,
    acked: 0,
    rejected: 0,
    abandoned: 0,
    inflight: 0,
    backlog: 0,
    dropped: 0,
    resent: 0,
    connects: 0,
    errors: 0,
    skipped: 0,
  };
}

export interface FleetStats extends Counters {
  readonly devices: number;
  readonly connectedDevices: number;
  readonly elapsedMs: number;
  /** Positive PUBACKs per second over elapsedMs. */
  readonly ackedPerSec: number;
  /** Publish → PUBACK, every acked message of every device. */
  readonly latency: LatencySummary;
  readonly rejectedByReason: Record<string, number>;
  readonly byFault: Partial<Record<FaultName, FaultCounts>>;
}

const COUNTER_KEYS = Object.keys(emptyCounters()) as (keyof Counters)[];

function addInto(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** Sums device stats into fleet stats. */
export function sumStats(
  devices: readonly DeviceStats[],
  histograms: readonly LatencyHistogram[],
  elapsedMs: number,
): FleetStats {
  const c = emptyCounters();
  const rejectedByReason: Record<string, number> = {};
  const byFault: Partial<Record<FaultName, FaultCounts>> = {};
  for (const d of devices) {
    for (const k of COUNTER_KEYS) c[k] += d[k];
    addInto(rejectedByReason, d.rejectedByReason);
    for (const [f, n] of Object.entries(d.byFault) as [FaultName, FaultCounts][]) {
      const into = byFault[f] ?? { sent: 0, acked: 0, rejected: 0, abandoned: 0 };
      into.sent += n.sent;
      into.acked += n.acked;
      into.rejected += n.rejected;
      into.abandoned += n.abandoned;
      byFault[f] = into;
    }
  }
  const h = new LatencyHistogram();
  for (const x of histograms) h.merge(x);
  return {
    ...c,
    devices: devices.length,
    connectedDevices: devices.filter((d) => d.connected).length,
    elapsedMs: Math.round(elapsedMs),
    ackedPerSec: elapsedMs > 0 ? Math.round((c.acked / elapsedMs) * 1000 * 10) / 10 : 0,
    latency: h.summary(),
    rejectedByReason,
    byFault,
  };
}
