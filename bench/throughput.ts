/**
 * CPU per reading and the sustained rate (issue #20): bare aedes, Mosquitto and the full
 * pipeline at the same offered load, once at a clinic's rate (60 devices over the five
 * kinds at ~1,200 readings/s, as `medchain simulate --rate 20`) and once at the
 * pipeline's saturation; the pipeline's maximum sustained receipted rate found by
 * stepping the offered load with the load generator spread over several processes.
 * CPU is the kernel's utime + stime of each target's process tree over the window
 * (pipeline: gateway + its HSM signer child + notary + the notary's signer).
 */
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { treeCpuSeconds } from './cpu.js';
import { perSecond, ratio } from './latency.js';
import { type ProcsLoadResult, procsDeviceIds, runLoadProcs } from './load-procs.js';
import { type PipelineNodes, startPipeline } from './pipeline-nodes.js';
import { sampleRss } from './procs.js';
import { readReceipts, receiptedBetween } from './receipts.js';
import { startAedes, startConsumer, startMosquitto, type Target } from './targets.js';

export interface ThroughputSettings {
  readonly warmupMs: number;
  readonly windowMs: number;
  /** Offered rates tried in turn on the pipeline until it saturates. */
  readonly steps: readonly number[];
  readonly stepDevices: number;
  readonly loadProcs: number;
  /** Gateway processes behind Mosquitto, one run each. */
  readonly gateways: readonly number[];
}

const STEPS = [2000, 3000, 5000, 7500, 11_000, 16_000, 24_000, 36_000, 54_000];
export const THROUGHPUT_QUICK: ThroughputSettings = {
  warmupMs: 2000,
  // Blocks of 1000 readings receipted seconds later on a loaded machine: a shorter
  // window catches too few of them.
  windowMs: 10_000,
  steps: STEPS,
  stepDevices: 250,
  loadProcs: 2,
  gateways: [1, 2, 4],
};
export const THROUGHPUT_FULL: ThroughputSettings = {
  ...THROUGHPUT_QUICK,
  warmupMs: 3000,
  windowMs: 15_000,
};

export const CLINIC = { devices: 60, offeredPerSec: 1200 } as const;

export interface CpuFigure {
  readonly target: string;
  readonly offeredPerSec: number;
  /** min(released, acked, delivered or receipted) per second in the window. */
  readonly sustainedPerSec: number;
  readonly saturated: boolean;
  /** Cores the target used over the window (CPU seconds / wall seconds). */
  readonly cores: number;
  /** CPU time per reading sustained, µs. */
  readonly usPerReading: number;
  /** The subscriber's own CPU per reading (forwarders), µs; not in usPerReading. */
  readonly subscriberUsPerReading?: number;
  /** Largest RSS of the target's process tree in the window (gateway: with its signer). */
  readonly rssMB: number;
  readonly pubackP99Ms: number;
  readonly loadAverage: number;
}

export interface ThroughputBench {
  readonly settings: ThroughputSettings;
  readonly clinic: {
    readonly aedes: CpuFigure;
    readonly mosquitto: CpuFigure | null;
    readonly full: CpuFigure;
  };
  readonly steps: readonly CpuFigure[];
  readonly maxSustainedPerSec: number;
  /** The other targets at the offered load where the pipeline saturated (or the last step). */
  readonly saturation: {
    readonly aedes: CpuFigure;
    readonly mosquitto: CpuFigure | null;
    readonly full: CpuFigure;
  };
  /**
   * Through Mosquitto (the existing-broker path) at the saturation step's offered load:
   * 1, 2 and 4 gateway processes on one shared subscription; CPU includes Mosquitto.
   * Empty when Mosquitto is not installed.
   */
  readonly external: readonly (CpuFigure & { readonly gateways: number })[];
  readonly ratios: {
    readonly clinicFullVsAedes: number | null;
    readonly saturationFullVsAedes: number | null;
    /** Sustained, one gateway through Mosquitto / the embedded path's maximum. */
    readonly externalVsEmbedded: number | null;
  };
}

/** The existing broker's settings for the gateway: in flight up to its Receive Maximum. */
const EXTERNAL_MOSQUITTO = ['max_inflight_messages 1000'];

async function externalRuns(
  dir: string,
  offeredPerSec: number,
  s: ThroughputSettings,
  log: (l: string) => void,
) {
  const out: (CpuFigure & { gateways: number })[] = [];
  for (const k of s.gateways) {
    const sub = join(dir, `external-${k}`);
    mkdirSync(join(sub, 'logs'), { recursive: true });
    const broker = await startMosquitto(sub, EXTERNAL_MOSQUITTO);
    if (broker === undefined) return out;
    try {
      log(`  ${k} gateway(s) behind Mosquitto at ${offeredPerSec}/s ...`);
      const nodes = await startPipeline({
        dir: sub,
        deviceIds: [],
        externalBroker: broker.url,
        gateways: k,
      });
      try {
        const run: Run = {
          idPrefix: `x${k}`,
          devices: s.stepDevices,
          offeredPerSec,
          procs: s.loadProcs,
        };
        const f = await pipelineRun(nodes, run, s, `${k} gateway(s) via Mosquitto`, broker.pid);
        out.push({ ...f, gateways: k });
      } finally {
        await nodes.stop();
        nodes.pki.sandbox.cleanup();
      }
    } finally {
      await broker.stop();
    }
  }
  return out;
}

interface Run {
  readonly idPrefix: string;
  readonly devices: number;
  readonly offeredPerSec: number;
  readonly procs: number;
}

const load1 = () => Math.round(loadavg()[0]! * 10) / 10;

function figure(
  target: string,
  load: ProcsLoadResult,
  delivered: number,
  cpu: number,
  wallMs: number,
  rssMB: number,
  extra: { subscriberCpu?: number; saturated?: boolean } = {},
): CpuFigure {
  const sustained = Math.min(load.publishedPerSec, load.ackedPerSec, delivered);
  const readings = (sustained * wallMs) / 1000;
  const us = (c: number) => (readings > 0 ? Math.round((c / readings) * 1e6) : 0);
  return {
    target,
    offeredPerSec: load.offeredPerSec,
    sustainedPerSec: sustained,
    saturated: extra.saturated ?? (load.saturated || delivered < 0.95 * load.publishedPerSec),
    cores: Math.round((cpu / (wallMs / 1000)) * 100) / 100,
    usPerReading: us(cpu),
    ...(extra.subscriberCpu !== undefined
      ? { subscriberUsPerReading: us(extra.subscriberCpu) }
      : {}),
    rssMB,
    pubackP99Ms: load.pubackP99Ms,
    loadAverage: load1(),
  };
}

async function forwarder(name: string, target: Target, run: Run, s: ThroughputSettings) {
  const consumer = await startConsumer(target.url);
  try {
    let r0 = 0;
    let c0 = 0;
    let s0 = 0;
    let t0 = 0;
    let delivered = 0;
    let cpu = 0;
    let sub = 0;
    let wall = 0;
    let rss: ReturnType<typeof sampleRss> | undefined;
    let rssMB = 0;
    const load = await runLoadProcs({
      url: target.url,
      ...run,
      warmupMs: s.warmupMs,
      windowMs: s.windowMs,
      atStart: async () => {
        r0 = await consumer.received();
        c0 = treeCpuSeconds(target.pid);
        s0 = treeCpuSeconds(consumer.pid);
        rss = sampleRss(target.pid);
        t0 = Date.now();
      },
      atEnd: async () => {
        wall = Date.now() - t0;
        cpu = treeCpuSeconds(target.pid) - c0;
        sub = treeCpuSeconds(consumer.pid) - s0;
        rssMB = rss?.stop().maxTreeMB ?? 0;
        delivered = perSecond((await consumer.received()) - r0, wall);
      },
    });
    return figure(name, load, delivered, cpu, wall, rssMB, { subscriberCpu: sub });
  } finally {
    await consumer.stop();
  }
}

async function pipelineRun(
  nodes: PipelineNodes,
  run: Run,
  s: ThroughputSettings,
  name = 'full pipeline',
  brokerPid?: number,
) {
  const pids = () => [
    ...nodes.gatewayPids(),
    nodes.notaryPid(),
    ...(brokerPid === undefined ? [] : [brokerPid]),
  ];
  const cpuNow = () => pids().reduce((t, p) => t + treeCpuSeconds(p), 0);
  let c0 = 0;
  let cpu = 0;
  let wall0 = 0;
  let wall1 = 0;
  let rss: ReturnType<typeof sampleRss> | undefined;
  let rssMB = 0;
  const load = await runLoadProcs({
    url: nodes.deviceUrl,
    ...run,
    warmupMs: s.warmupMs,
    windowMs: s.windowMs,
    secrets: nodes.secrets,
    atStart: () => {
      c0 = cpuNow();
      rss = sampleRss(nodes.gatewayPid());
      wall0 = Date.now();
    },
    atEnd: () => {
      wall1 = Date.now();
      cpu = cpuNow() - c0;
      rssMB = rss?.stop().maxTreeMB ?? 0;
    },
  });
  await drained(nodes, 60_000);
  let inWindow = 0;
  for (const db of nodes.gatewayDbs) {
    inWindow += receiptedBetween(await readReceipts(db, run.idPrefix), wall0, wall1);
  }
  const receipted = perSecond(inWindow, wall1 - wall0);
  return figure(name, load, receipted, cpu, wall1 - wall0, rssMB);
}

async function drained(nodes: PipelineNodes, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // The first gateway's backlog (behind a shared subscription the others drain alike).
    const m = await nodes.gatewayMetrics();
    if ((m.medchain_gateway_spool_backlog_readings ?? 1) === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function forwarders(dir: string, run: Run, s: ThroughputSettings, log: (l: string) => void) {
  log(`  bare aedes at ${run.offeredPerSec}/s ...`);
  const a = await startAedes();
  let aedes: CpuFigure;
  try {
    aedes = await forwarder('bare aedes', a, run, s);
  } finally {
    await a.stop();
  }
  const m = await startMosquitto(dir);
  let mosquitto: CpuFigure | null = null;
  if (m) {
    log(`  Mosquitto at ${run.offeredPerSec}/s ...`);
    try {
      mosquitto = await forwarder('Mosquitto', m, run, s);
    } finally {
      await m.stop();
    }
  }
  return { aedes, mosquitto };
}

export async function benchThroughput(o: {
  dir: string;
  settings: ThroughputSettings;
  log: (line: string) => void;
}): Promise<ThroughputBench> {
  const s = o.settings;
  const clinicRun: Run = { idPrefix: 'cl', ...CLINIC, procs: 1 };
  const stepRuns: Run[] = s.steps.map((rate, i) => ({
    idPrefix: `st${i}`,
    devices: s.stepDevices,
    offeredPerSec: rate,
    procs: s.loadProcs,
  }));
  const ids = [clinicRun, ...stepRuns].flatMap((r) => procsDeviceIds(r));
  o.log(`  full pipeline: provisioning (${ids.length} devices) ...`);
  const nodes = await startPipeline({ dir: o.dir, deviceIds: ids });
  const steps: CpuFigure[] = [];
  let clinicFull: CpuFigure;
  try {
    o.log(`  full pipeline at the clinic rate, ${CLINIC.offeredPerSec}/s ...`);
    clinicFull = await pipelineRun(nodes, clinicRun, s);
    for (const run of stepRuns) {
      o.log(`  full pipeline, step: offered ${run.offeredPerSec}/s (load average ${load1()}) ...`);
      const f = await pipelineRun(nodes, run, s);
      steps.push(f);
      o.log(
        `    sustained ${f.sustainedPerSec}/s, ${f.usPerReading} µs CPU per reading${f.saturated ? ', saturated' : ''}`,
      );
      if (f.saturated) break;
    }
  } finally {
    await nodes.stop();
    nodes.pki.sandbox.cleanup();
  }
  const satIndex = steps.length - 1;
  const satFull = steps[satIndex]!;
  const clinic = await forwarders(o.dir, clinicRun, s, o.log);
  const sat = await forwarders(o.dir, { ...stepRuns[satIndex]!, idPrefix: 'fw' }, s, o.log);
  const maxSustained = Math.max(...steps.map((f) => f.sustainedPerSec));
  const external = await externalRuns(o.dir, satFull.offeredPerSec, s, o.log);
  return {
    settings: s,
    clinic: { ...clinic, full: clinicFull },
    steps,
    maxSustainedPerSec: maxSustained,
    saturation: { ...sat, full: satFull },
    external,
    ratios: {
      externalVsEmbedded: ratio(external[0]?.sustainedPerSec ?? 0, maxSustained),
      clinicFullVsAedes: ratio(clinicFull.usPerReading, clinic.aedes.usPerReading),
      saturationFullVsAedes: ratio(satFull.usPerReading, sat.aedes.usPerReading),
    },
  };
}
