/**
 * End to end: the same load generator against bare aedes, Mosquitto and the full
 * pipeline, one after the other in this run, and the ratios between them. Everything
 * on 127.0.0.1, in a temp directory removed at the end, every process stopped even
 * when a step fails (bench/procs.ts).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { E2eSettings } from './e2e-settings.js';
import { benchForwarder, type ForwardBench } from './forward.js';
import { ratio } from './latency.js';
import { makeReadings, type Readings } from './load.js';
import { benchPipeline, type PipelineBench, PREFIX } from './pipeline.js';
import { killAll } from './procs.js';
import { type ProfileSummary, summariseProfile } from './profile.js';
import { startAedes, startMosquitto, type Target } from './targets.js';

export interface E2eBench {
  readonly settings: E2eSettings;
  readonly aedes: ForwardBench;
  /** null when /usr/sbin/mosquitto is not installed. */
  readonly mosquitto: ForwardBench | null;
  readonly full: PipelineBench;
  readonly ratios: { readonly fullVsAedes: number | null; readonly fullVsMosquitto: number | null };
  /** With --profile: where the gateway's and the notary's CPU went. */
  readonly profiles?: Record<string, ProfileSummary>;
}

async function forward(
  name: string,
  start: () => Promise<Target | undefined>,
  readings: Readings,
  s: E2eSettings,
  log: (l: string) => void,
): Promise<ForwardBench | null> {
  const target = await start();
  if (target === undefined) {
    log(`  ${name}: not installed, skipped`);
    return null;
  }
  try {
    log(`  ${name}: ${s.devices} devices, offered ${s.offeredPerSec}/s ...`);
    return await benchForwarder(target, { readings, warmupMs: s.warmupMs, windowMs: s.windowMs });
  } finally {
    await target.stop();
  }
}

export async function benchE2e(o: {
  settings: E2eSettings;
  profile: boolean;
  log: (line: string) => void;
}): Promise<E2eBench> {
  const s = o.settings;
  const dir = mkdtempSync(join(tmpdir(), 'medchain-bench-'));
  mkdirSync(join(dir, 'logs'));
  const profDir = join(dir, 'profiles');
  try {
    o.log(`  making the readings of ${s.devices} devices at ${s.offeredPerSec}/s ...`);
    // The same readings, byte for byte, for all three targets.
    const readings = makeReadings({
      devices: s.devices,
      idPrefix: PREFIX.peak,
      offeredPerSec: s.offeredPerSec,
      spanMs: s.warmupMs + s.windowMs,
    });
    const aedes = await forward('bare aedes', startAedes, readings, s, o.log);
    if (aedes === null) throw new Error('bare aedes did not start');
    const mosquitto = await forward('Mosquitto', () => startMosquitto(dir), readings, s, o.log);
    const full = await benchPipeline({
      dir,
      devices: s.devices,
      peak: readings,
      warmupMs: s.warmupMs,
      windowMs: s.windowMs,
      offlineMs: s.offlineMs,
      ...(o.profile ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] } : {}),
      log: o.log,
    });
    const fullRate = full.peak.sustainedPerSec;
    return {
      settings: s,
      aedes,
      mosquitto,
      full,
      ratios: {
        fullVsAedes: ratio(fullRate, aedes.sustainedPerSec),
        fullVsMosquitto: mosquitto ? ratio(fullRate, mosquitto.sustainedPerSec) : null,
      },
      ...(o.profile ? { profiles: profiles(profDir, full.pids) } : {}),
    };
  } finally {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every profile written (node names them CPU.date.time.PID.…), keyed by process. */
function profiles(dir: string, pids: PipelineBench['pids']): Record<string, ProfileSummary> {
  const out: Record<string, ProfileSummary> = {};
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
    const pid = Number(f.split('.')[3]);
    const name =
      pid === pids.gateway ? 'gateway' : pid === pids.notary ? 'notary' : `hsm signer ${pid}`;
    out[name] = summariseProfile(join(dir, f));
  }
  return out;
}
