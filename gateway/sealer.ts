/**
 * Seals the oldest unsealed readings into the next block: read the head, encrypt and
 * sign (core sealBlock; the signature on the HSM, asynchronously), then store the block,
 * mark its readings and move the head in ONE transaction (Spool.storeBlock), which
 * refuses if the head moved. One seal at a time per gateway.
 */

import { MAX_BLOCK_READINGS, sealBlock } from '../core/block.js';
import type { ReaderPublicKey } from '../core/body.js';
import type { Signer } from '../core/signer.js';
import type { Logger } from '../ops/log.js';
import type { GatewayMetrics } from './metrics.js';
import type { BlockSealer, SealOutput } from './seal-thread.js';
import type { Spool } from './spool.js';

export interface SealerOptions {
  spool: Spool;
  gatewayId: string;
  signer: Signer;
  readers: readonly ReaderPublicKey[];
  metrics: GatewayMetrics;
  log: Logger;
  /** Most readings per block (N). */
  maxReadings: number;
  /** About this many reading bytes per block (B). */
  maxBytes: number;
  now?: () => number;
  /** Where blocks are sealed (the gateway: a worker thread); default in this thread. */
  blockSealer?: Pick<BlockSealer, 'seal'>;
}

/** Seals in the calling thread. */
export const inThread: Pick<BlockSealer, 'seal'> = {
  async seal(input): Promise<SealOutput> {
    const s = await sealBlock(input);
    const salts = Buffer.concat(s.records.map((r) => r.salt));
    return { header: s.header, bytes: s.bytes, hash: s.hash, salts };
  },
};

export interface SealResult {
  readonly seq: number;
  readonly count: number;
}

export class Sealer {
  readonly #o: SealerOptions;
  #busy: Promise<SealResult | undefined> | undefined;

  constructor(o: SealerOptions) {
    if (o.readers.length === 0) throw new Error('readers: at least one reader key');
    this.#o = { ...o, maxReadings: Math.min(o.maxReadings, MAX_BLOCK_READINGS) };
  }

  /** Seals one block from the oldest unsealed readings; undefined when none are waiting. */
  sealOnce(): Promise<SealResult | undefined> {
    const run = (this.#busy ?? Promise.resolve()).then(
      () => this.#seal(),
      () => this.#seal(),
    );
    this.#busy = run;
    return run;
  }

  async #seal(): Promise<SealResult | undefined> {
    const o = this.#o;
    const pending = await o.spool.unsealed(o.maxReadings, o.maxBytes);
    if (pending.length === 0) return undefined;
    const head = await o.spool.head();
    const seq = head.seq + 1;
    try {
      const sealed = await (o.blockSealer ?? inThread).seal({
        gatewayId: o.gatewayId,
        seq,
        prev: head.hash,
        readings: pending.map((r) => ({ reading: r.bytes, receivedAt: r.receivedAt })),
        readers: o.readers,
        signer: o.signer,
        sealedAt: (o.now ?? Date.now)(),
      });
      await o.spool.storeBlock({
        seq,
        prev: head.hash,
        hash: sealed.hash,
        bytes: sealed.bytes,
        sealedAt: sealed.header.sealedAt,
        count: pending.length,
        lastReadingId: pending.at(-1)!.id,
        salts: sealed.salts,
      });
    } catch (err) {
      o.metrics.sealErrors.inc();
      o.log.error({ err, seq }, 'sealing failed; the readings stay in the spool');
      throw err;
    }
    o.metrics.sealed.inc();
    o.log.info({ seq, count: pending.length }, 'block sealed');
    return { seq, count: pending.length };
  }
}
