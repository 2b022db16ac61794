/**
 * `npm run bench` flags, checked: the run stays bounded in connections and time
 * whatever is asked (BENCH_USAGE otherwise).
 */
import { parseArgs } from 'node:util';
import { MedchainError } from '../errors/medchain-error.js';
import { type E2eSettings, FULL, QUICK } from './e2e-settings.js';

export interface BenchFlags {
  readonly quick: boolean;
  readonly profile: boolean;
  readonly e2eOnly: boolean;
  /** Only the CPU-per-reading and stepped-rate part (bench/throughput.ts). */
  readonly throughputOnly: boolean;
  readonly out: string | undefined;
  readonly settings: E2eSettings;
}

export const LIMITS = {
  devices: 2000,
  rate: 100_000,
  window: 600,
  'offline-seconds': 3600,
} as const;

function bounded(v: string | undefined, fallback: number, name: keyof typeof LIMITS): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > LIMITS[name]) {
    throw new MedchainError('BENCH_USAGE', `--${name}: a number above 0, at most ${LIMITS[name]}`);
  }
  return n;
}

export function parseBenchFlags(args: readonly string[]): BenchFlags {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(args).values;
  } catch (err) {
    throw new MedchainError('BENCH_USAGE', (err as Error).message, { cause: err });
  }
  const quick = values.quick === true;
  const base = quick ? QUICK : FULL;
  return {
    quick,
    profile: values.profile === true,
    e2eOnly: values['e2e-only'] === true,
    throughputOnly: values['throughput-only'] === true,
    out: values.out,
    settings: {
      ...base,
      devices: Math.round(bounded(values.devices, base.devices, 'devices')),
      offeredPerSec: bounded(values.rate, base.offeredPerSec, 'rate'),
      windowMs: bounded(values.window, base.windowMs / 1000, 'window') * 1000,
      offlineMs:
        bounded(values['offline-seconds'], base.offlineMs / 1000, 'offline-seconds') * 1000,
    },
  };
}

function parse(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      profile: { type: 'boolean', default: false },
      devices: { type: 'string' },
      rate: { type: 'string' },
      window: { type: 'string' },
      'offline-seconds': { type: 'string' },
      'e2e-only': { type: 'boolean', default: false },
      'throughput-only': { type: 'boolean', default: false },
    },
  });
}
