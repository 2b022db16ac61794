/**
 * The arithmetic of the end-to-end benchmark, kept pure so a test can check it:
 * quantiles of a latency histogram, rates over a window, reading→receipt latencies
 * from publish times and the gateway's receipt times.
 */
import { LatencyHistogram } from '../simulators/histogram.js';

export interface Percentiles {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export function percentiles(h: LatencyHistogram): Percentiles {
  const s = h.summary();
  return { count: s.count, p50Ms: s.p50Ms, p99Ms: s.p99Ms, maxMs: s.maxMs };
}

/** Events per second over a window; 0 for an empty window. */
export function perSecond(count: number, windowMs: number): number {
  return windowMs > 0 ? Math.round((count / windowMs) * 1000) : 0;
}

/** a / b to two decimals; null when b is 0 (no ratio to speak of). */
export function ratio(a: number, b: number): number | null {
  return b > 0 ? Math.round((a / b) * 100) / 100 : null;
}

/**
 * Wall-clock publish times of readings, by device and seq (seqs start at 1 and have
 * no holes, so an array per device indexed by seq is enough).
 */
export class PublishLog {
  readonly #byDevice = new Map<string, number[]>();

  record(deviceId: string, seq: number, atMs: number): void {
    let times = this.#byDevice.get(deviceId);
    if (times === undefined) {
      times = [];
      this.#byDevice.set(deviceId, times);
    }
    times[seq] = atMs;
  }

  at(deviceId: string, seq: number): number | undefined {
    return this.#byDevice.get(deviceId)?.[seq];
  }

  get size(): number {
    let n = 0;
    for (const t of this.#byDevice.values()) for (const x of t) if (x !== undefined) n++;
    return n;
  }
}

export interface ReceiptRow {
  readonly deviceId: string;
  readonly seq: number;
  /** When the gateway stored the receipt (ms since the epoch), null before it has one. */
  readonly receiptAt: number | null;
}

export interface ReceiptLatency extends Percentiles {
  /** Readings of the log found in the rows without a receipt. */
  readonly unreceipted: number;
}

/**
 * Reading→receipt latency: from the moment the device handed the reading to MQTT to
 * the moment its block's receipt was stored at the gateway. Rows of readings not in
 * the log (published outside the measured window) are ignored.
 */
export function receiptLatency(log: PublishLog, rows: Iterable<ReceiptRow>): ReceiptLatency {
  const h = new LatencyHistogram();
  let unreceipted = 0;
  for (const r of rows) {
    const t0 = log.at(r.deviceId, r.seq);
    if (t0 === undefined) continue;
    if (r.receiptAt === null) unreceipted++;
    else h.record(Math.max(0, r.receiptAt - t0));
  }
  return { ...percentiles(h), unreceipted };
}
