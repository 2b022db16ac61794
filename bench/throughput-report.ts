/** Tables of the CPU-per-reading part of the benchmark, and its temp directory. */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAll } from './procs.js';
import type { CpuFigure, ThroughputBench } from './throughput.js';

function row(f: CpuFigure) {
  return {
    target: f.target,
    'offered/s': f.offeredPerSec,
    'sustained/s': f.sustainedPerSec,
    saturated: f.saturated ? 'yes' : 'no',
    cores: f.cores,
    'µs CPU/reading': f.usPerReading,
    'subscriber µs': f.subscriberUsPerReading ?? '',
    'RSS MB': f.rssMB,
    'PUBACK p99 ms': f.pubackP99Ms,
    load: f.loadAverage,
  };
}

export function printThroughput(
  t: ThroughputBench,
  table: (title: string, rows: object[]) => void,
): void {
  const three = (x: { aedes: CpuFigure; mosquitto: CpuFigure | null; full: CpuFigure }) =>
    [x.aedes, x.mosquitto, x.full].flatMap((f) => (f ? [row(f)] : []));
  table('At the clinic rate (60 devices, five kinds)', three(t.clinic));
  table(
    'Pipeline, offered load stepped until it saturates (load generator in several processes)',
    t.steps.map(row),
  );
  table("At the pipeline's saturation step", three(t.saturation));
  if (t.external.length > 0) {
    table(
      'Through Mosquitto (existing-broker path), 1, 2 and 4 gateway processes on one shared subscription',
      t.external.map(row),
    );
  }
  table('CPU per reading, full/aedes; maximum sustained receipted', [
    { ...t.ratios, maxSustainedPerSec: t.maxSustainedPerSec },
  ]);
}

/** Runs f in a fresh temp directory, removed (and every child killed) afterwards. */
export async function withTempDir<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'medchain-bench-tp-'));
  mkdirSync(join(dir, 'logs'));
  try {
    return await f(dir);
  } finally {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}
