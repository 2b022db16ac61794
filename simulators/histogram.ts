/**
 * Latency histogram, log-linear like HdrHistogram: exact below 64 µs, then 32 buckets per
 * power of two, so a reported quantile is within 1/64 (1.6 %) of the true value. Fixed
 * memory per device whatever the run length; histograms of many devices merge by adding.
 */

const SUB = 32;
const LINEAR = 2 * SUB;

function bucketOf(us: number): number {
  if (us < LINEAR) return us;
  const e = 31 - Math.clz32(us); // floor(log2(us)), ≥ 6
  const sub = (us >>> (e - 5)) & (SUB - 1);
  return LINEAR + (e - 6) * SUB + sub;
}

/** Midpoint of a bucket, µs. */
function midpointUs(bucket: number): number {
  if (bucket < LINEAR) return bucket;
  const e = 6 + Math.floor((bucket - LINEAR) / SUB);
  const sub = (bucket - LINEAR) % SUB;
  const width = 2 ** (e - 5);
  return (SUB + sub) * width + width / 2;
}

export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Latencies beyond ~35 minutes land in the last bucket. */
const MAX_US = 2 ** 31 - 1;

export class LatencyHistogram {
  private readonly counts: number[] = [];
  count = 0;
  private sumUs = 0;
  private maxUs = 0;

  /** Records one latency in milliseconds (fractions kept to the microsecond). */
  record(ms: number): void {
    const us = Math.min(MAX_US, Math.max(0, Math.round(ms * 1000)));
    const b = bucketOf(us);
    this.counts[b] = (this.counts[b] ?? 0) + 1;
    this.count++;
    this.sumUs += us;
    if (us > this.maxUs) this.maxUs = us;
  }

  merge(other: LatencyHistogram): this {
    for (const [b, n] of other.counts.entries()) {
      if (n !== undefined) this.counts[b] = (this.counts[b] ?? 0) + n;
    }
    this.count += other.count;
    this.sumUs += other.sumUs;
    this.maxUs = Math.max(this.maxUs, other.maxUs);
    return this;
  }

  /** The q-quantile (0..1) in ms; 0 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (const [b, n] of this.counts.entries()) {
      if (n === undefined) continue;
      seen += n;
      if (seen >= rank) return Math.min(midpointUs(b), this.maxUs) / 1000;
    }
    return this.maxUs / 1000;
  }

  summary(): LatencySummary {
    const r = (ms: number) => Math.round(ms * 1000) / 1000;
    return {
      count: this.count,
      meanMs: r(this.count === 0 ? 0 : this.sumUs / this.count / 1000),
      p50Ms: r(this.quantile(0.5)),
      p90Ms: r(this.quantile(0.9)),
      p99Ms: r(this.quantile(0.99)),
      maxMs: r(this.maxUs / 1000),
    };
  }
}
