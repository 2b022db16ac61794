/**
 * The end-to-end figures as tables for people: per target, the pipeline's phases, the
 * ratios side by side, the goals against what was measured, and profiles.
 */
import type { E2eBench } from './e2e.js';
import type { ForwardBench } from './forward.js';
import type { PipelinePhase } from './pipeline.js';

type Table = (title: string, rows: object[]) => void;

function forwardRow(target: string, f: ForwardBench) {
  return {
    target,
    devices: f.load.connected,
    offered: f.load.offeredPerSec,
    published: f.load.publishedPerSec,
    acked: f.load.ackedPerSec,
    'delivered/receipted': f.deliveredPerSec,
    sustained: f.sustainedPerSec,
    saturated: f.load.saturated,
    'PUBACK p50 ms': f.load.puback.p50Ms,
    'PUBACK p99 ms': f.load.puback.p99Ms,
    'RSS MB': f.brokerRss.maxMB,
  };
}

function phaseRow(phase: string, p: PipelinePhase) {
  return {
    phase,
    offered: p.load.offeredPerSec,
    acked: p.load.ackedPerSec,
    receipted: p.receiptedPerSec,
    'receipt p50 ms': p.receipt.p50Ms,
    'receipt p99 ms': p.receipt.p99Ms,
    'PUBACK p99 ms': p.load.puback.p99Ms,
    'gw RSS MB': p.gatewayRss.maxMB,
    'gw+signer MB': p.gatewayRss.maxTreeMB,
    'notary RSS MB': p.notaryRss.maxMB,
    'gw signs/s': p.gatewaySignsPerSec,
    'notary signs/s': p.notarySignsPerSec,
    'entries/s': p.notaryEntriesPerSec,
  };
}

export function printE2e(e: E2eBench, verifier: { ratio: number } | null, table: Table): void {
  const full = e.full;
  table('Readings/s per target (same load generator; msgs/s; latency in ms)', [
    forwardRow('bare aedes', e.aedes),
    ...(e.mosquitto ? [forwardRow('Mosquitto', e.mosquitto)] : []),
    {
      target: 'full pipeline',
      devices: full.peak.load.connected,
      offered: full.peak.load.offeredPerSec,
      published: full.peak.load.publishedPerSec,
      acked: full.peak.load.ackedPerSec,
      'delivered/receipted': full.peak.receiptedPerSec,
      sustained: full.peak.sustainedPerSec,
      saturated: full.peak.load.saturated,
      'PUBACK p50 ms': full.peak.load.puback.p50Ms,
      'PUBACK p99 ms': full.peak.load.puback.p99Ms,
      'RSS MB': full.peak.gatewayRss.maxMB,
    },
  ]);
  table(`Full pipeline (batch interval ${full.batchIntervalMs} ms)`, [
    phaseRow('peak', full.peak),
    phaseRow('50% of peak', full.half),
  ]);
  table('Gateway spooling with the notary stopped', [
    {
      seconds: full.offline.seconds,
      'RSS idle MB': full.idleRss.gatewayMB,
      offered: full.offline.load.offeredPerSec,
      acked: full.offline.load.ackedPerSec,
      'RSS first MB': full.offline.gatewayRss.firstMB,
      'RSS max MB': full.offline.gatewayRss.maxMB,
      'RSS last MB': full.offline.gatewayRss.lastMB,
      'backlog readings': full.offline.backlogReadings,
    },
  ]);
  table('Ratios', [
    {
      'full/aedes': e.ratios.fullVsAedes,
      'full/Mosquitto': e.ratios.fullVsMosquitto,
      'verifier/SHA-256': verifier?.ratio ?? null,
    },
  ]);
  const goal = (name: string, measured: number | null, target: string, met: boolean) => ({
    goal: name,
    measured,
    target,
    met,
  });
  table('Goals of issue #8 (not assertions)', [
    goal('full / bare aedes', e.ratios.fullVsAedes, '>= 0.5', (e.ratios.fullVsAedes ?? 0) >= 0.5),
    goal(
      'receipt p99 at 50% of peak (ms)',
      full.half.receipt.p99Ms,
      `<= ${full.half.p99TargetMs}`,
      full.half.p99Met,
    ),
    ...(verifier
      ? [goal('verifier / SHA-256', verifier.ratio, '>= 0.5', verifier.ratio >= 0.5)]
      : []),
    goal(
      `gateway RSS MB at ${full.peak.sustainedPerSec} readings/s`,
      full.peak.gatewayRss.maxMB,
      '<= 300 (at 10k/s)',
      full.peak.gatewayRss.maxMB <= 300,
    ),
    goal(
      `gateway RSS MB, ${full.offline.seconds} s notary offline`,
      full.offline.gatewayRss.maxMB,
      '<= 300',
      full.offline.gatewayRss.maxMB <= 300,
    ),
  ]);
  for (const [name, p] of Object.entries(e.profiles ?? {})) {
    const areas = Object.entries(p.byArea).slice(0, 8);
    table(`CPU profile of ${name} (${p.seconds} s): share of samples by area, %`, [
      Object.fromEntries(areas),
    ]);
    table(`CPU profile of ${name}: top functions (self time, %)`, p.topFunctions);
  }
}
