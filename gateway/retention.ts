/**
 * The gateway's retention pass (docs/GATEWAY.md "Retention and erasure"): spooled
 * readings go `retentionMs` after their block's receipt; block bodies and salts are
 * erased `bodyRetentionMs` after it (the signed header, hash and receipt stay).
 */
import type { Logger } from '../ops/log.js';
import { expireBodies } from './erasure.js';
import type { GatewayMetrics } from './metrics.js';
import type { Spool } from './spool.js';

export interface RetentionPolicy {
  readonly retentionMs: number;
  readonly bodyRetentionMs: number;
}

export async function runRetention(
  spool: Spool,
  policy: RetentionPolicy,
  metrics: GatewayMetrics,
  log: Logger,
  now: number,
): Promise<{ pruned: number; erased: number }> {
  const pruned = await spool.prune(now - policy.retentionMs);
  metrics.readingsPruned.inc(pruned);
  const erased = await expireBodies(spool, now - policy.bodyRetentionMs, now);
  metrics.bodiesErased.inc({ cause: 'retention' }, erased);
  if (pruned > 0 || erased > 0) {
    log.info(
      { pruned, erasedBodies: erased },
      'retention: receipted readings pruned, bodies erased',
    );
  }
  return { pruned, erased };
}
