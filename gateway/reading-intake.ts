/**
 * One device reading, whatever broker it came through: validate (core decodeReading,
 * payload device id = topic device id), spool through the group-commit intake, count
 * and log. Resolves 'ack' when the device may get its PUBACK (stored, a duplicate, or
 * a reading that can never be valid); rejects when it must not (pushback, store
 * failure). The policy is documented in device-publish.ts and docs/GATEWAY.md.
 */
import { decodeReading } from '../core/reading-decode.js';
import type { ReadingLimits } from '../core/reading-schema.js';
import type { Logger } from '../ops/log.js';
import { GatewayCode, GatewayError } from './errors.js';
import type { Intake } from './intake.js';
import type { GatewayMetrics } from './metrics.js';
import type { RejectLog } from './reject-log.js';

export interface ReadingIntakeDeps {
  intake: Intake;
  metrics: GatewayMetrics;
  log: Logger;
  rejectLog: RejectLog;
  limits?: Partial<ReadingLimits> | undefined;
  now?: (() => number) | undefined;
}

export async function takeReading(
  deps: ReadingIntakeDeps,
  device: string,
  payload: Uint8Array,
): Promise<'ack'> {
  const { metrics, rejectLog } = deps;
  const receivedAt = (deps.now ?? Date.now)();
  const d = decodeReading(payload, {
    expectedDeviceId: device,
    receivedAt,
    ...(deps.limits ? { limits: deps.limits } : {}),
  });
  if (!d.ok) {
    metrics.rejected.inc({ reason: d.error.reason });
    rejectLog.warn(
      `bad:${device}`,
      { device, reason: d.error.reason, detail: d.error.message.slice(0, 300) },
      'reading rejected',
    );
    return 'ack';
  }
  const r = d.value.reading;
  if (d.value.clockSkewed) metrics.skewed.inc();
  if (d.value.clockReset) {
    metrics.clockReset.inc();
    rejectLog.warn(
      `clock:${device}`,
      { device, seq: r.seq, deviceTime: r.deviceTime },
      'device clock reset (time before 2000): reading kept, flagged',
    );
  }
  let res: Awaited<ReturnType<Intake['submit']>>;
  try {
    res = await deps.intake.submit({
      deviceId: device,
      seq: r.seq,
      receivedAt,
      bytes: d.value.canonical,
    });
  } catch (err) {
    const pushback = err instanceof GatewayError && err.code === GatewayCode.Pushback;
    metrics.rejected.inc({ reason: pushback ? 'pushback' : 'store-error' });
    if (!pushback) deps.log.error({ err, device }, 'spool write failed: no PUBACK');
    throw err;
  }
  if (res.outcome === 'stored') {
    metrics.accepted.inc();
    if (res.late) metrics.lateReadings.inc();
    if (res.gap > 0) {
      metrics.gaps.inc(res.gap);
      rejectLog.warn(
        `gap:${device}`,
        { device, seq: r.seq, missing: res.gap },
        'device sequence gap: readings missing before this one',
      );
    }
  } else if (res.outcome === 'duplicate') {
    metrics.duplicates.inc();
  } else {
    metrics.rejected.inc({ reason: 'conflict' });
    rejectLog.warn(
      `conflict:${device}`,
      { device, seq: r.seq },
      'reading rejected: this (device, seq) was spooled with other content',
    );
  }
  return 'ack';
}
