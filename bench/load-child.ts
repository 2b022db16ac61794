/**
 * One of several load generator processes (bench/load-procs.ts): makes its share of the
 * readings, connects its devices, waits for the parent's 'go' so every generator
 * releases on the same schedule, runs the load and answers its LoadResult over IPC.
 */
import { makeReadings, runLoad } from './load.js';

export interface LoadChildJob {
  readonly url: string;
  readonly devices: number;
  readonly idPrefix: string;
  readonly offeredPerSec: number;
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly secrets: readonly (readonly [string, string])[];
}

function message<T>(): Promise<T> {
  return new Promise((resolve) => process.once('message', (m) => resolve(m as T)));
}

const job = await message<LoadChildJob>();
const readings = makeReadings({
  devices: job.devices,
  idPrefix: job.idPrefix,
  offeredPerSec: job.offeredPerSec,
  // A little past the window: the last releases must not run out before it closes.
  spanMs: job.warmupMs + job.windowMs + 2000,
});
const secrets = new Map(job.secrets);
process.send?.({ made: true });
const result = await runLoad({
  url: job.url,
  readings,
  warmupMs: job.warmupMs,
  windowMs: job.windowMs,
  credentials: (id) => secrets.get(id),
  connected: async () => {
    const go = message<string>();
    process.send?.({ connected: true });
    await go;
  },
});
process.send?.({ result }, () => process.exit(0));
