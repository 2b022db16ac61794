/**
 * A forwarding target (bare aedes, Mosquitto) under the load generator, with a QoS 1
 * subscriber consuming everything as the gateway would: readings/s acknowledged to the
 * devices and delivered to the subscriber, PUBACK latency, the broker's RSS.
 */
import { perSecond } from './latency.js';
import { type LoadResult, type Readings, runLoad } from './load.js';
import { sampleRss } from './procs.js';
import { startConsumer, type Target } from './targets.js';

export interface ForwardBench {
  readonly load: LoadResult;
  /** Messages the subscriber received inside the window, per second. */
  readonly deliveredPerSec: number;
  /** min(released, acked, delivered): what the broker sustained end to end. */
  readonly sustainedPerSec: number;
  readonly brokerRss: { maxMB: number };
}

export async function benchForwarder(
  target: Target,
  o: { readings: Readings; warmupMs: number; windowMs: number },
): Promise<ForwardBench> {
  const consumer = await startConsumer(target.url);
  try {
    let r0 = 0;
    let r1 = 0;
    let t0 = 0;
    let t1 = 0;
    let rss: ReturnType<typeof sampleRss> | undefined;
    let maxMB = 0;
    const load = await runLoad({
      url: target.url,
      readings: o.readings,
      warmupMs: o.warmupMs,
      windowMs: o.windowMs,
      atStart: async () => {
        r0 = await consumer.received();
        t0 = Date.now();
        rss = sampleRss(target.pid);
      },
      atEnd: async () => {
        t1 = Date.now();
        maxMB = rss?.stop().maxMB ?? 0;
        r1 = await consumer.received();
      },
    });
    const deliveredPerSec = perSecond(r1 - r0, t1 - t0);
    return {
      load,
      deliveredPerSec,
      sustainedPerSec: Math.min(load.publishedPerSec, load.ackedPerSec, deliveredPerSec),
      brokerRss: { maxMB },
    };
  } finally {
    await consumer.stop();
  }
}
