import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeReading, type Reading } from '../../core/reading.js';

const T0 = Date.now();
type Teardown = { teardown(fn: () => unknown): void };

export function tempDir(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'medchain-gw-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function reading(deviceId: string, seq: number, spo2 = 97): Reading {
  return {
    deviceId,
    seq,
    deviceTime: T0 + seq,
    patient: 'MRN-000123',
    observations: [
      { kind: 'numeric', code: 150456, value: { mantissa: spo2, exponent: 0 }, unit: '%' },
    ],
  };
}

export const readingBytes = (deviceId: string, seq: number, spo2 = 97) =>
  encodeReading(reading(deviceId, seq, spo2));

export function jsonReading(deviceId: string, seq: number): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      deviceId,
      seq,
      time: new Date().toISOString(),
      patient: 'MRN-000123',
      obs: [{ code: 'MDC_PULS_OXIM_SAT_O2', value: '97', unit: '%' }],
    }),
  );
}

/** Waits for `event` with a bound, so a broken feature fails the test instead of hanging it. */
export async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function onceWithin(
  emitter: NodeJS.EventEmitter,
  event: string,
  ms = 5000,
): Promise<unknown[]> {
  return within(ms, `event '${event}'`, once(emitter, event));
}

/** Polls `check` (an observable condition, not a clock) until true, bounded. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 10_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
