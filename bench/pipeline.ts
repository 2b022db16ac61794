/**
 * The full pipeline under the load generator: devices → gateway (validate, spool, seal
 * on SoftHSM) → notary (verify, chain, receipt) → receipt stored at the gateway. Three
 * phases on fresh devices each: at the offered peak, at half the rate the peak phase
 * sustained (latency), and with the notary stopped (the gateway spools; its RSS).
 */
import { performance } from 'node:perf_hooks';
import { PublishLog, perSecond, type ReceiptLatency, receiptLatency } from './latency.js';
import { deviceIds, type LoadResult, makeReadings, type Readings, runLoad } from './load.js';
import { BATCH, type PipelineNodes, startPipeline } from './pipeline-nodes.js';
import { rssMB, sampleRss } from './procs.js';
import { readReceipts, receiptedBetween } from './receipts.js';

export interface PipelinePhase {
  readonly load: LoadResult;
  /** Readings whose receipt reached the gateway inside the window, per second. */
  readonly receiptedPerSec: number;
  /** min(released, acked, receipted): what the whole pipeline sustained. */
  readonly sustainedPerSec: number;
  readonly receipt: ReceiptLatency;
  readonly gatewayRss: { maxMB: number; maxTreeMB: number };
  readonly notaryRss: { maxMB: number; maxTreeMB: number };
  readonly gatewaySignsPerSec: number;
  readonly notarySignsPerSec: number;
  readonly notaryEntriesPerSec: number;
  readonly blocksPerSec: number;
}

export interface PipelineBench {
  readonly batchIntervalMs: number;
  readonly pids: { readonly gateway: number; readonly notary: number };
  /** RSS once both are ready, before any device connected. */
  readonly idleRss: { readonly gatewayMB: number; readonly notaryMB: number };
  readonly peak: PipelinePhase;
  readonly half: PipelinePhase & { readonly p99TargetMs: number; readonly p99Met: boolean };
  readonly offline: {
    readonly seconds: number;
    readonly load: LoadResult;
    readonly gatewayRss: { firstMB: number; maxMB: number; lastMB: number; maxTreeMB: number };
    readonly backlogReadings: number;
  };
}

export interface PipelineOptions {
  readonly dir: string;
  readonly devices: number;
  /** The peak phase's readings (the forwarding targets got the same ones). */
  readonly peak: Readings;
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly offlineMs: number;
  readonly nodeArgs?: readonly string[];
  readonly log: (line: string) => void;
}

export const PREFIX = { peak: 'pk-', half: 'hf-', offline: 'off-' } as const;

async function drained(nodes: PipelineNodes, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = await nodes.gatewayMetrics();
    if ((m.medchain_gateway_spool_backlog_readings ?? 1) === 0) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

async function phase(
  nodes: PipelineNodes,
  o: PipelineOptions,
  prefix: string,
  readings: Readings,
): Promise<PipelinePhase> {
  const log = new PublishLog();
  let gw0: Record<string, number> = {};
  let nt0: Record<string, number> = {};
  let gw1: Record<string, number> = {};
  let nt1: Record<string, number> = {};
  let t0 = 0;
  let t1 = 0;
  let wall0 = 0;
  let wall1 = 0;
  let rss: { gw: ReturnType<typeof sampleRss>; nt: ReturnType<typeof sampleRss> } | undefined;
  let rssOut = { gw: { maxMB: 0, maxTreeMB: 0 }, nt: { maxMB: 0, maxTreeMB: 0 } };
  const load = await runLoad({
    url: nodes.deviceUrl,
    readings,
    warmupMs: o.warmupMs,
    windowMs: o.windowMs,
    credentials: (id) => nodes.secrets.get(id),
    onPublish: (d, seq, at) => log.record(d, seq, at),
    atStart: async () => {
      [gw0, nt0] = await Promise.all([nodes.gatewayMetrics(), nodes.notaryMetrics()]);
      rss = { gw: sampleRss(nodes.gatewayPid()), nt: sampleRss(nodes.notaryPid()) };
      t0 = performance.now();
      wall0 = Date.now();
    },
    atEnd: async () => {
      t1 = performance.now();
      wall1 = Date.now();
      if (rss) rssOut = { gw: rss.gw.stop(), nt: rss.nt.stop() };
      [gw1, nt1] = await Promise.all([nodes.gatewayMetrics(), nodes.notaryMetrics()]);
    },
  });
  if (!(await drained(nodes, 60_000))) o.log('    (gateway backlog not drained after 60 s)');
  const rows = await readReceipts(nodes.gatewayDb, prefix);
  const ms = t1 - t0;
  const delta = (a: Record<string, number>, b: Record<string, number>, k: string) =>
    perSecond((b[k] ?? 0) - (a[k] ?? 0), ms);
  const receiptedPerSec = perSecond(receiptedBetween(rows, wall0, wall1), wall1 - wall0);
  return {
    load,
    receiptedPerSec,
    sustainedPerSec: Math.min(load.publishedPerSec, load.ackedPerSec, receiptedPerSec),
    receipt: receiptLatency(log, rows),
    gatewayRss: { maxMB: rssOut.gw.maxMB, maxTreeMB: rssOut.gw.maxTreeMB },
    notaryRss: { maxMB: rssOut.nt.maxMB, maxTreeMB: rssOut.nt.maxTreeMB },
    gatewaySignsPerSec: delta(gw0, gw1, 'medchain_gateway_hsm_sign_seconds_count'),
    notarySignsPerSec: delta(nt0, nt1, 'medchain_notary_sign_seconds_count'),
    notaryEntriesPerSec: delta(nt0, nt1, 'medchain_notary_entries'),
    blocksPerSec: delta(gw0, gw1, 'medchain_gateway_blocks_sealed_total'),
  };
}

function readingsAt(o: PipelineOptions, idPrefix: string, rate: number, spanMs: number) {
  return makeReadings({ devices: o.devices, idPrefix, offeredPerSec: rate, spanMs });
}

export async function benchPipeline(o: PipelineOptions): Promise<PipelineBench> {
  const ids = Object.values(PREFIX).flatMap((p) => deviceIds(o.devices, p));
  o.log('  full pipeline: provisioning tokens, Trent, notary and gateway ...');
  const nodes = await startPipeline({
    dir: o.dir,
    deviceIds: ids,
    ...(o.nodeArgs ? { nodeArgs: o.nodeArgs } : {}),
  });
  const idleRss = { gatewayMB: rssMB(nodes.gatewayPid()), notaryMB: rssMB(nodes.notaryPid()) };
  try {
    o.log(`  full pipeline: peak phase, offered ${o.peak.offeredPerSec}/s ...`);
    const peak = await phase(nodes, o, PREFIX.peak, o.peak);
    // A window too short to hold a receipt (sealing starved) leaves only the ack rate.
    const peakRate = peak.sustainedPerSec > 0 ? peak.sustainedPerSec : peak.load.ackedPerSec;
    const halfRate = Math.max(1, Math.round(peakRate / 2));
    o.log(`  full pipeline: half-load phase, offered ${halfRate}/s ...`);
    const span = o.warmupMs + o.windowMs;
    const half = await phase(nodes, o, PREFIX.half, readingsAt(o, PREFIX.half, halfRate, span));
    const p99TargetMs = BATCH.maxDelayMs + 250;
    o.log(`  full pipeline: notary stopped, gateway spooling for ${o.offlineMs / 1000} s ...`);
    await nodes.stopNotary();
    let rss: ReturnType<typeof sampleRss> | undefined;
    let rssOut = { firstMB: 0, maxMB: 0, lastMB: 0, maxTreeMB: 0 };
    let backlog = 0;
    const offlineLoad = await runLoad({
      url: nodes.deviceUrl,
      readings: readingsAt(o, PREFIX.offline, halfRate, o.warmupMs + o.offlineMs),
      warmupMs: o.warmupMs,
      windowMs: o.offlineMs,
      credentials: (id) => nodes.secrets.get(id),
      atStart: () => {
        rss = sampleRss(nodes.gatewayPid(), 1000);
      },
      atEnd: async () => {
        if (rss) rssOut = rss.stop();
        backlog = (await nodes.gatewayMetrics()).medchain_gateway_spool_backlog_readings ?? 0;
      },
    });
    return {
      batchIntervalMs: BATCH.maxDelayMs,
      pids: { gateway: nodes.gatewayPid(), notary: nodes.notaryPid() },
      idleRss,
      peak,
      half: { ...half, p99TargetMs, p99Met: half.receipt.p99Ms <= p99TargetMs },
      offline: {
        seconds: Math.round(o.offlineMs / 1000),
        load: offlineLoad,
        gatewayRss: rssOut,
        backlogReadings: backlog,
      },
    };
  } finally {
    await nodes.stop();
    nodes.pki.sandbox.cleanup();
  }
}
